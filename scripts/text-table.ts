/** A plain-text table for the demos: columns padded to their widest cell, a rule under the header row. */
export const table = (rows: readonly (readonly string[])[]): string => {
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  return rows.map((row, index) => {
    const line = row.map((cell, column) => cell.padEnd(widths[column])).join('  ').trimEnd();
    return index === 0 ? `${line}\n${widths.map((w) => '─'.repeat(w)).join('  ')}` : line;
  }).join('\n');
};
