import { forEachLimit, Limiter } from '../../src/core/limit';

/** A task that resolves when the test says so, so in-flight counts are exact without timers. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
}

test('Limiter runs at most max at once, in arrival order', async () => {
  const lim = new Limiter(2);
  const gates = [gate(), gate(), gate()];
  const started: number[] = [];
  const runs = gates.map((g, i) => lim.run(async () => {
    started.push(i);
    await g.opened;
  }));
  await Promise.resolve();
  expect(started).toEqual([0, 1]);
  expect(lim.inFlight).toBe(2);
  gates[0]!.open();
  await runs[0];
  await Promise.resolve();
  expect(started).toEqual([0, 1, 2]);
  gates[1]!.open();
  gates[2]!.open();
  await Promise.all(runs);
  expect(lim.inFlight).toBe(0);
});

test('forEachLimit visits every item with its index, bounded, and rejects with the first error', async () => {
  let active = 0;
  let peak = 0;
  const seen: string[] = [];
  await forEachLimit(['a', 'b', 'c', 'd', 'e'], 2, async (item, i) => {
    peak = Math.max(peak, ++active);
    await new Promise((r) => setImmediate(r));
    seen.push(`${i}${item}`);
    active--;
  });
  expect(seen.sort()).toEqual(['0a', '1b', '2c', '3d', '4e']);
  expect(peak).toBe(2);
  await expect(forEachLimit([1, 2, 3], 0, async (n) => {
    if (n === 2) throw new Error('two');
  })).rejects.toThrow('two');
});
