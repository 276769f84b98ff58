// L7 (Judge0 #564): a shell from Node sees the documented environment only
// and the box's root, not the host's.
const { execSync } = require('child_process');
process.stdout.write(execSync('printenv; echo ---; ls /').toString());
