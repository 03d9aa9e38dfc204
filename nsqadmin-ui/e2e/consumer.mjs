// A minimal nsqd TCP (protocol V2) consumer: IDENTIFY, SUB, RDY, and FIN for
// every message. Enough to put a real client on a channel.
import net from 'node:net';

const FRAME_RESPONSE = 0;
const FRAME_ERROR = 1;
const FRAME_MESSAGE = 2;

export function consume({ address, topic, channel, rdy = 100, identify = {} }) {
  const [host, port] = splitHostPort(address);
  const sock = net.connect({ host, port });
  let buf = Buffer.alloc(0);
  const state = { finished: 0, errors: [], ready: false };
  let resolveReady;
  let rejectReady;
  const ready = new Promise((res, rej) => {
    resolveReady = res;
    rejectReady = rej;
  });
  let step = 0; // 0: waiting for IDENTIFY reply, 1: waiting for SUB reply, 2: subscribed

  sock.on('connect', () => {
    const body = Buffer.from(JSON.stringify({ feature_negotiation: false, ...identify }));
    const len = Buffer.alloc(4);
    len.writeUInt32BE(body.length);
    sock.write(Buffer.concat([Buffer.from('  V2'), Buffer.from('IDENTIFY\n'), len, body]));
  });
  sock.on('data', (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    while (buf.length >= 8) {
      const size = buf.readUInt32BE(0);
      if (buf.length < 4 + size) break;
      const type = buf.readUInt32BE(4);
      const data = buf.subarray(8, 4 + size);
      buf = buf.subarray(4 + size);
      onFrame(type, data);
    }
  });
  sock.on('error', (e) => {
    state.errors.push(e.message);
    rejectReady(e);
  });

  function onFrame(type, data) {
    if (type === FRAME_ERROR) {
      state.errors.push(data.toString());
      rejectReady(new Error(`nsqd error: ${data.toString()}`));
      return;
    }
    if (type === FRAME_RESPONSE) {
      const text = data.toString();
      if (text === '_heartbeat_') {
        sock.write('NOP\n');
      } else if (step === 0) {
        step = 1;
        sock.write(`SUB ${topic} ${channel}\n`);
      } else if (step === 1) {
        step = 2;
        sock.write(`RDY ${rdy}\n`);
        state.ready = true;
        resolveReady();
      }
      return;
    }
    if (type === FRAME_MESSAGE) {
      // timestamp (8) + attempts (2) + id (16) + body
      const id = data.subarray(10, 26).toString('latin1');
      sock.write(`FIN ${id}\n`);
      state.finished++;
    }
  }

  return {
    state,
    ready,
    close() {
      return new Promise((resolve) => {
        if (sock.destroyed) return resolve();
        sock.once('close', resolve);
        sock.end('CLS\n');
        setTimeout(() => sock.destroy(), 1000);
      });
    },
  };
}

function splitHostPort(addr) {
  const i = addr.lastIndexOf(':');
  return [addr.slice(0, i).replace(/^\[|\]$/g, ''), Number(addr.slice(i + 1))];
}
