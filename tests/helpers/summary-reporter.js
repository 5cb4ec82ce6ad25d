// Prints one plain closing line, `Tests: N passed, N failed`, after Jest's own summary,
// so that tools reading the last line of a run see the counts.
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const line =
      `Tests: ${results.numPassedTests} passed, ${results.numFailedTests + results.numRuntimeErrorTestSuites} failed` +
      `${skipped > 0 ? `, ${skipped} skipped` : ''}`;
    // Jest writes its own summary after every reporter; this line goes last.
    process.once('exit', () => process.stdout.write(`\n${line}\n`));
  }
}
module.exports = SummaryReporter;
