/** Rows of the markdown table that follows a heading line, as arrays of cell texts. */
export function tableAfter(markdown: string, marker: string): string[][] {
  const start = markdown.indexOf(marker);
  if (start === -1) throw new Error(`no ${marker} in the document`);
  const lines = markdown.slice(start).split('\n');
  const first = lines.findIndex((l) => l.startsWith('|'));
  const rows: string[][] = [];
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(line.slice(1, -1).split(' | ').map((c) => c.trim().replace(/^`|`$/g, '')));
  }
  return rows;
}
