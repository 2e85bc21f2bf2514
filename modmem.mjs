const rss = () => (process.memoryUsage().rss / 1048576).toFixed(1);
const heap = () => (process.memoryUsage().heapUsed / 1048576).toFixed(1);
console.log('base', rss(), heap());
for (const m of process.argv.slice(2)) {
  await import(m);
  global.gc?.();
  console.log(m, rss(), heap());
}
