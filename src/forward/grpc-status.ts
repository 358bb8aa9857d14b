// gRPC status codes (grpc/doc/statuscodes.md) for the agent's own Mirror.Stream: the agent does
// not load grpc-js (65 modules, ~40 ms of CPU at every start) for a table of numbers.
// test/unit/grpc-status.test.ts keeps it equal to grpc-js's `status`.
export const GrpcCode = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

const NAMES = new Map<number, string>(Object.entries(GrpcCode).map(([name, code]) => [code, name]));

/** The code's name (UNAVAILABLE), or undefined for a number gRPC does not define. */
export function grpcCodeName(code: number): string | undefined {
  return NAMES.get(code);
}
