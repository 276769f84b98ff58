// L10: allocate 8 MiB typed arrays (outside V8's heap, so V8's own heap
// limit never fires) and keep them: the cgroup's OOM killer ends it.
const keep = [];
console.log('allocating');
for (;;) keep.push(new Float64Array(1 << 20).fill(1));
