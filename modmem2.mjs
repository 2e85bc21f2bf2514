import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const rss = () => (process.memoryUsage().rss / 1048576).toFixed(1);
console.log('base', rss());
for (const m of process.argv.slice(2)) { require(m); global.gc?.(); console.log(m, rss()); }
