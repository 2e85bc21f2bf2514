// The bytes of request bodies one replica holds at once: being read, parsed,
// waiting for the database or being loaded. A request takes its share before
// its body is read (the declared length; a gzip or chunked body grows its share
// as it decodes) and gives it back once answered. So any number of bodies at
// once costs at most INGEST_MEMORY_BYTES (times what parsing adds), and the
// request past it is answered 503 at once, its body unread.

export interface Lease {
  /** Bytes held. */
  readonly bytes: number;
  /** Holds `total` bytes in all; false, holding what it held, when the budget cannot give them. */
  growTo(total: number): boolean;
  release(): void;
}

export interface MemoryBudget {
  /** A lease of `bytes`; undefined when the budget cannot give them now. */
  lease(bytes: number): Lease | undefined;
  /** Bytes leased now, by every request together. */
  held(): number;
}

export function createMemoryBudget(limit: number): MemoryBudget {
  let held = 0;
  const fits = (more: number) => held + more <= limit;
  return {
    held: () => held,
    lease(bytes) {
      if (!fits(bytes)) return undefined;
      held += bytes;
      let mine = bytes;
      let released = false;
      return {
        get bytes() {
          return mine;
        },
        growTo(total) {
          if (released || total <= mine) return !released;
          if (!fits(total - mine)) return false;
          held += total - mine;
          mine = total;
          return true;
        },
        release() {
          if (released) return;
          released = true;
          held -= mine;
          mine = 0;
        },
      };
    },
  };
}
