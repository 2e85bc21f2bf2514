// Reading a program's Prometheus /metrics: the receiver's own counters say
// what it committed, without querying the tables it is writing to.

export type Samples = Array<{ name: string; labels: Record<string, string>; value: number }>;

export async function scrape(url: string): Promise<Samples> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out: Samples = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1]!, l[2]!]));
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** The sum of a metric over the samples whose labels match `where`. */
export function total(samples: Samples, name: string, where: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v)).reduce((n, s) => n + s.value, 0);
}

/** Rows the receiver committed, by table. */
export async function receiverRows(url: string): Promise<Record<string, number>> {
  const rows: Record<string, number> = {};
  for (const s of await scrape(url)) if (s.name === 'ferry_receiver_rows_total') rows[s.labels.table!] = s.value;
  return rows;
}

/** Where the receiver's time went, per table: COPYs, their mean time, and the mean time of the requests that carried them. */
export function receiverBreakdown(m: Samples, tables: readonly string[]): Array<Record<string, string | number>> {
  const posts = total(m, 'ferry_receiver_http_request_duration_seconds_count', { method: 'POST' });
  const postSeconds = total(m, 'ferry_receiver_http_request_duration_seconds_sum', { method: 'POST' });
  return [
    ...tables.map((table) => {
      const n = total(m, 'ferry_receiver_copy_duration_seconds_count', { table });
      return { what: `COPY into ${table}`, count: n, 'mean ms': n > 0 ? (total(m, 'ferry_receiver_copy_duration_seconds_sum', { table }) / n) * 1000 : 0, rows: total(m, 'ferry_receiver_rows_total', { table }) };
    }),
    { what: 'POST requests (parse, transaction, COPY, commit)', count: posts, 'mean ms': posts > 0 ? (postSeconds / posts) * 1000 : 0 },
  ];
}
