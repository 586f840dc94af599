/**
 * A jest reporter for the real-Airflow suite: when any test failed, prints the tail of every Airflow server's log
 * (kept in its AIRFLOW_HOME) before the global teardown removes them.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

class RealAirflowLogReporter {
  onRunComplete(_contexts, results) {
    if (results.numFailedTests === 0 && results.numFailedTestSuites === 0) return;
    let servers = [];
    try {
      servers = JSON.parse(fs.readFileSync(path.join(os.tmpdir(), 'real-airflow-servers.json'), 'utf8'));
    } catch {
      return;
    }
    for (const s of servers) {
      let text = '(no log)';
      try {
        text = fs.readFileSync(s.logFile, 'utf8').slice(-8000);
      } catch {
        // removed already
      }
      process.stderr.write(`\n--- Airflow ${s.target.id} log (${s.logFile}), last 8,000 characters ---\n${text}\n`);
    }
  }
}

module.exports = RealAirflowLogReporter;
