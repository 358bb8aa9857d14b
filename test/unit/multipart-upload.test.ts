// What the spool's uploader puts on the wire that a server accepts either way, so only the request
// itself can show it: the part's CRC32 (checked against a known value) and the payload signing
// choice (UNSIGNED-PAYLOAD over HTTPS, SHA-256 of the body over plain HTTP). The request is
// stopped just before it would be sent (a last middleware); the real server tests are in
// test/integration/storage-multipart.test.ts.
import { createHash } from 'node:crypto';
import { S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { crc32Base64, MultipartUploader, PartPool } from '../../src/storage/multipart-upload';

/** The headers of an UploadPart of `body` to `endpoint`, as they would be sent. */
async function sentHeaders(endpoint: string, body: Buffer): Promise<Record<string, string>> {
  const client = new S3Client({ endpoint, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: 'id', secretAccessKey: 'secret' } });
  new MultipartUploader(client, 5 << 20, 4);
  let headers: Record<string, string> = {};
  client.middlewareStack.add(
    () => async (args) => {
      headers = (args.request as { headers: Record<string, string> }).headers;
      throw new Error('not sent');
    },
    { step: 'finalizeRequest', priority: 'low' },
  );
  await expect(client.send(new UploadPartCommand({ Bucket: 'b', Key: 'k', UploadId: 'u', PartNumber: 1, Body: body, ContentLength: body.length, ChecksumCRC32: crc32Base64(body) }))).rejects.toThrow('not sent');
  client.destroy();
  return headers;
}

describe('the spool uploader', () => {
  it("CRC32 in x-amz-checksum-crc32's form: big-endian, base64", () => {
    expect(crc32Base64(Buffer.from('123456789'))).toBe(Buffer.from('cbf43926', 'hex').toString('base64')); // the CRC-32 check value
    expect(crc32Base64(Buffer.alloc(0))).toBe('AAAAAA==');
  });

  it('over HTTPS the part is not hashed for the signature (UNSIGNED-PAYLOAD); over HTTP it is; its CRC32 goes along either way', async () => {
    const body = Buffer.alloc(100_000, 7);
    const crc = crc32Base64(body);
    const tls = await sentHeaders('https://s3.example.test', body);
    expect(tls['x-amz-content-sha256']).toBe('UNSIGNED-PAYLOAD');
    expect(tls['x-amz-checksum-crc32']).toBe(crc);
    expect(tls.authorization).toMatch(/SignedHeaders=[^,]*x-amz-checksum-crc32[^,]*x-amz-content-sha256/); // both signed
    const plain = await sentHeaders('http://s3.example.test', body);
    expect(plain['x-amz-content-sha256']).toBe(createHash('sha256').update(body).digest('hex'));
    expect(plain['x-amz-checksum-crc32']).toBe(crc);
  });

  it('the part pool hands back the same buffers: no allocation per part', () => {
    const pool = new PartPool(2);
    const a = pool.take(1000), b = pool.take(1000);
    pool.give(a);
    pool.give(b);
    const again = [pool.take(1000), pool.take(1000)];
    expect(new Set(again)).toEqual(new Set([a, b]));
    for (const x of again) pool.give(x);
    expect(pool.take(2000).length).toBe(2000); // a larger part size: larger buffers from then on
  });
});
