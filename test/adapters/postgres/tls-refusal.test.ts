import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { makeCa, makeServerCert } from '../../../lab/world/tls';
import { NodeTlsError, NodeUnreachableError } from '../../../lambdas/adapters/postgres/errors';
import { PgNodeAdapter, parsePgConfig, pgSsl } from '../../../lambdas/adapters/postgres/pg-node-adapter';
import type { DbSslMode } from '../../../lambdas/core/tls';

/**
 * A spoofed node: answers PostgreSQL's SSLRequest, then either refuses TLS (`N`) or terminates TLS with its own
 * certificate, and records every byte the client sends after that point. The password travels only after the
 * startup message, so "no byte after the handshake" means no credential was sent.
 */
class SpoofedNode {
  /** Bytes received after the SSLRequest was answered (inside TLS, or in clear after an `N`). */
  after = 0;
  sslRequests = 0;
  private readonly server: net.Server;

  constructor(answer: 'N' | { cert: string; key: string }) {
    this.server = net.createServer((sock) => {
      sock.on('error', () => undefined);
      sock.once('data', (first) => {
        // SSLRequest: length 8, code 80877103.
        if (first.length >= 8 && first.readUInt32BE(4) === 80877103) this.sslRequests++;
        if (answer === 'N') {
          sock.on('data', (b) => {
            this.after += b.length;
          });
          sock.write('N');
          return;
        }
        sock.write('S');
        const t = new tls.TLSSocket(sock, {
          isServer: true,
          cert: fs.readFileSync(answer.cert),
          key: fs.readFileSync(answer.key),
        });
        t.on('error', () => undefined);
        t.on('data', (b) => {
          this.after += b.length;
        });
      });
    });
  }

  listen(): Promise<number> {
    return new Promise((resolve) =>
      this.server.listen(0, '127.0.0.1', () => resolve((this.server.address() as net.AddressInfo).port)),
    );
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgq-tls-'));
const trusted = makeCa(dir, 'trusted', 'pgquorum test CA');
const rogue = makeCa(dir, 'rogue', 'someone else');
const fromRogue = { cert: path.join(dir, 'rogue-node.crt'), key: path.join(dir, 'rogue-node.key') };
const misnamed = { cert: path.join(dir, 'misnamed.crt'), key: path.join(dir, 'misnamed.key') };
const good = { cert: path.join(dir, 'good.crt'), key: path.join(dir, 'good.key') };
// The same address and name as a real node's certificate, issued by another CA.
makeServerCert(rogue, fromRogue, 'pg1.db.internal', ['IP:127.0.0.1', 'DNS:pg1.db.internal']);
// The right CA, but a certificate for another node (no 127.0.0.1 SAN).
makeServerCert(trusted, misnamed, 'pg2.db.internal', ['IP:10.0.2.10', 'DNS:pg2.db.internal']);
makeServerCert(trusted, good, 'pg1.db.internal', ['IP:127.0.0.1', 'DNS:pg1.db.internal']);
const caPem = fs.readFileSync(trusted.cert, 'utf8');

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const adapter = (mode: DbSslMode, serverNames: Record<string, string> = {}) =>
  new PgNodeAdapter(
    parsePgConfig({
      user: 'pgquorum',
      password: 'the-privileged-password',
      ssl: pgSsl(mode, caPem, serverNames),
      connectTimeoutMs: 2000,
    }),
  );

async function attempt(
  node: SpoofedNode,
  mode: DbSslMode,
  serverNames: Record<string, string> = {},
): Promise<{ err: unknown; after: number }> {
  const port = await node.listen();
  try {
    const err = await adapter(mode, serverNames)
      .promote({ name: 'pg1', host: '127.0.0.1', port }, { timeoutMs: 1500 })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    // Let any byte in flight land before counting.
    await new Promise((r) => setTimeout(r, 100));
    return { err, after: node.after };
  } finally {
    await node.close();
  }
}

describe('a node presenting a certificate the controller cannot verify is refused, with nothing sent', () => {
  it.each<[string, () => SpoofedNode, DbSslMode]>([
    ['a certificate from another CA, verify-full', () => new SpoofedNode(fromRogue), 'verify-full'],
    ['a certificate from another CA, verify-ca', () => new SpoofedNode(fromRogue), 'verify-ca'],
    ['a certificate of the right CA for another address, verify-full', () => new SpoofedNode(misnamed), 'verify-full'],
    ['no TLS at all (answers N), verify-full', () => new SpoofedNode('N'), 'verify-full'],
    ['no TLS at all (answers N), require', () => new SpoofedNode('N'), 'require'],
  ])('%s: a typed NodeTlsError, and no byte after the SSLRequest', async (_n, make, mode) => {
    const node = make();
    const { err, after } = await attempt(node, mode);
    expect(err).toBeInstanceOf(NodeTlsError);
    expect(err).toBeInstanceOf(NodeUnreachableError);
    expect((err as Error).message).toMatch(/TLS: nothing was sent to it/);
    expect(node.sslRequests).toBe(1);
    expect(after).toBe(0);
  });

  it('checks a configured TLS server name instead of the address', async () => {
    // misnamed carries DNS:pg2.db.internal: named so, it passes verify-full; it fails again under another name.
    const named = await attempt(new SpoofedNode(misnamed), 'verify-full', { pg1: 'pg2.db.internal' });
    expect(named.err).not.toBeInstanceOf(NodeTlsError);
    expect(named.after).toBeGreaterThan(0);
    const wrong = await attempt(new SpoofedNode(misnamed), 'verify-full', { pg1: 'pg1.db.internal' });
    expect(wrong.err).toBeInstanceOf(NodeTlsError);
    expect(wrong.after).toBe(0);
  });

  // The recorder can fail: where the client does trust the server, the startup message does arrive.
  it.each<[string, () => SpoofedNode, DbSslMode]>([
    ['a certificate of the right CA and address, verify-full', () => new SpoofedNode(good), 'verify-full'],
    ['a certificate of the right CA for another address, verify-ca', () => new SpoofedNode(misnamed), 'verify-ca'],
    ['a certificate from another CA, require (encrypts, trusts anyone)', () => new SpoofedNode(fromRogue), 'require'],
  ])('control: %s gets past TLS and the client speaks', async (_n, make, mode) => {
    const { err, after } = await attempt(make(), mode);
    expect(err).not.toBeInstanceOf(NodeTlsError);
    expect(after).toBeGreaterThan(0);
  });
});

describe('a probe of a node that fails TLS verification reports it as such (the probes do not judge it, see readPrimary)', () => {
  it.each<[string, () => SpoofedNode]>([
    ['a certificate from another CA', () => new SpoofedNode(fromRogue)],
    ['no TLS at all (answers N)', () => new SpoofedNode('N')],
  ])('%s: ok false, tlsFailed', async (_n, make) => {
    const node = make();
    const port = await node.listen();
    try {
      const p = await adapter('verify-full').probe({ name: 'pg1', host: '127.0.0.1', port });
      expect(p).toMatchObject({
        ok: false,
        tlsFailed: true,
        error: expect.stringMatching(/TLS: nothing was sent to it/),
      });
      expect(p.authFailed).toBeUndefined();
    } finally {
      await node.close();
    }
  });

  it('control: nothing listening is down, not a TLS failure', async () => {
    const node = new SpoofedNode(good);
    const port = await node.listen();
    await node.close();
    const p = await adapter('verify-full').probe({ name: 'pg1', host: '127.0.0.1', port });
    expect(p.ok).toBe(false);
    expect(p.tlsFailed).toBeUndefined();
  });
});
