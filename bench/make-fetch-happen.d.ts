// make-fetch-happen ships no types; the benchmark's bare gateway only needs `defaults` (what Apollo Gateway calls).
declare module 'make-fetch-happen' {
  const makeFetchHappen: { defaults(options: Record<string, unknown>): unknown };
  export default makeFetchHappen;
}
