// L10: a Worker bomb: thread creation fails at the process limit and Node
// reports it as an exception (ERR_WORKER_INIT_FAILED), which is caught.
const { Worker } = require('worker_threads');
let n = 0;
for (let i = 0; i < 200; i++) {
  try {
    const w = new Worker('setInterval(() => {}, 1000)', { eval: true });
    w.on('error', (e) => { console.log('worker error: ' + e.code); process.exit(0); });
    n++;
  } catch (e) {
    console.log('new Worker failed after ' + n + ': ' + e.code);
    process.exit(0);
  }
}
console.log('created ' + n + ' workers');
process.exit(0);
