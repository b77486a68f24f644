// A node:test reporter that writes nothing but the skipped tests (and todo ones), one JSON line each:
// { file, name, reason }. scripts/run-tests.mjs runs it beside the spec reporter and prints the list
// at the end of the run, so coverage that was not run is never silent.
export default async function* skipReporter(source) {
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const d = event.data;
    if (d.skip === undefined && d.todo === undefined) continue;
    const reason = d.skip !== undefined ? d.skip : d.todo;
    yield `${JSON.stringify({ file: d.file ?? '', name: d.name, kind: d.skip !== undefined ? 'skip' : 'todo', reason: typeof reason === 'string' ? reason : '' })}\n`;
  }
}
