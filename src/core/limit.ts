/** The one concurrency limiter: a counting semaphore, and a bounded parallel for-each built on it. */

export class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly max: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((r) => this.waiting.push(r));
    else this.active++;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }

  get inFlight(): number {
    return this.active;
  }
}

/** Runs fn over items, at most `max` at once, starting them in order; rejects with the first error. */
export async function forEachLimit<T>(items: readonly T[], max: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  const limiter = new Limiter(Math.max(1, max));
  await Promise.all(items.map((item, i) => limiter.run(() => fn(item, i))));
}
