// The end of a command that has finished everything it started (its capture session awaited, its
// files closed): Node would still tear its heap and every native object down before exiting, page
// by page, which after `podspan analyze` of 200,000 requests took ~14 ms of a ~320 ms run, only
// to reach the same exit. This exits at once instead, from a macrotask (every promise reaction
// has run) and only when the event loop holds nothing Node can see: no handle, request or timer
// (standard output's stream still writing, for one, keeps the normal end). Native threads and
// workers are not among what Node sees, so only commands that awaited theirs ask for it.
export function exitWhenIdle(): void {
  setImmediate(() => {
    if (process.getActiveResourcesInfo().length === 0) process.exit();
  });
}
