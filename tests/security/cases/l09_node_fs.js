// L9: legitimate file-heavy Node: libuv's io_uring answers ENOSYS and it
// falls back to its thread pool; everything works.
const fs = require('fs');
const path = require('path');
const dir = fs.mkdtempSync('/tmp/l09-');
for (let i = 0; i < 300; i++) fs.writeFileSync(path.join(dir, 'f' + i), 'x'.repeat(i));
let total = 0;
for (let i = 0; i < 300; i++) total += fs.readFileSync(path.join(dir, 'f' + i)).length;
(async () => {
  const p = fs.promises;
  await Promise.all(Array.from({ length: 100 }, (_, i) => p.writeFile(path.join(dir, 'g' + i), 'y'.repeat(i))));
  const sizes = await Promise.all(Array.from({ length: 100 }, (_, i) => p.stat(path.join(dir, 'g' + i)).then((s) => s.size)));
  const names = await p.readdir(dir);
  await Promise.all(names.map((n) => p.unlink(path.join(dir, n))));
  await p.rmdir(dir);
  console.log('sync bytes=' + total + ' async bytes=' + sizes.reduce((a, b) => a + b, 0) + ' files=' + names.length);
})();
