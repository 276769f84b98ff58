// L8: Node's TCP connect to the runner's loopback listener (port argv[2])
// and a DNS lookup both fail.
const net = require('net');
const dns = require('dns');
const port = parseInt(process.argv[2], 10);
const sock = net.connect({ port, host: '127.0.0.1' });
sock.on('connect', () => { console.log('tcp: CONNECTED'); sock.destroy(); lookup(); });
sock.on('error', (e) => { console.log('tcp: ' + e.code); lookup(); });
function lookup() {
  dns.lookup('deb.debian.org', (err) => {
    console.log('dns: ' + (err ? 'failed' : 'RESOLVED'));
  });
}
