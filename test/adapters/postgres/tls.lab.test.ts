import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import {
  LAB_CA_FILE,
  LAB_DB_NAME,
  LAB_DB_PASSWORD,
  LAB_DB_USER,
  LAB_ZONE_NAME,
  Lab,
  labCaPem,
  makeCa,
} from '../../../lab/world/index';
import { nodeLogFile } from '../../../lab/world/paths';
import { NodeTlsError } from '../../../lambdas/adapters/postgres/errors';
import { PgNodeAdapter, parsePgConfig, pgSsl } from '../../../lambdas/adapters/postgres/pg-node-adapter';
import { buildConninfo } from '../../../lambdas/core/conninfo';
import { libpqTlsKeywords } from '../../../lambdas/core/tls';

/**
 * The lab's real PostgreSQL nodes run TLS with certificates from the CA `lab up` generated. To the controller, a
 * node whose certificate comes from a CA it does not trust is a spoofed node: here the controller trusts another
 * CA, so the real node is that spoofed node.
 */
let lab: Lab;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgq-tls-lab-'));
const otherCa = fs.readFileSync(makeCa(dir, 'other', 'not the lab CA').cert, 'utf8');

beforeAll(async () => {
  lab = await Lab.attach();
}, 60000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const adapter = (ca: string) =>
  new PgNodeAdapter(parsePgConfig({ user: LAB_DB_USER, password: LAB_DB_PASSWORD, ssl: pgSsl('verify-full', ca) }));
const ep = (name: string) => ({ name, host: '127.0.0.1', port: lab.nodeConnection(name).port });

describe('TLS between the controller and the lab nodes', () => {
  it('connects with verify-full against the lab CA, over TLS', async () => {
    const p = await adapter(labCaPem()).probe(ep('pg1'));
    expect(p).toMatchObject({ ok: true, role: 'primary' });
    const c = new Client(lab.nodeConnection('pg1'));
    await c.connect();
    try {
      const r = await c.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
      expect(r.rows[0].ssl).toBe(true);
      // Every replica streams over TLS too (the lab's pg_hba refuses the replication role without it).
      const s = await c.query(
        'SELECT r.application_name AS name, s.ssl FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid) ORDER BY 1',
      );
      expect(s.rows).toEqual([
        { name: 'pg2', ssl: true },
        { name: 'pg3', ssl: true },
      ]);
    } finally {
      await c.end();
    }
  });

  it('refuses a node whose certificate is from another CA, typed, and the server never saw a startup message', async () => {
    const log = nodeLogFile('pg1');
    const before = fs.statSync(log).size;
    const err = await adapter(otherCa)
      .promote(ep('pg1'), { timeoutMs: 1500 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NodeTlsError);
    expect((err as Error).message).toMatch(/self-signed certificate in certificate chain|unable to verify|certificate/);
    // The server log says the TLS handshake never completed (node drops the socket on a bad chain: "EOF detected"),
    // so no startup message, and no password, reached it.
    let tail = '';
    for (let i = 0; i < 20 && !/could not accept SSL connection/.test(tail); i++) {
      await new Promise((r) => setTimeout(r, 100));
      tail = fs.readFileSync(log, 'utf8').slice(before);
    }
    expect(tail).toMatch(/could not accept SSL connection/);
    expect(tail).not.toMatch(/password authentication failed|authentication failed for user/);
  });

  it('refuses a client of the controller role that does not use TLS (pg_hba hostnossl reject)', async () => {
    const c = new Client({ ...lab.nodeConnection('pg1'), ssl: false, connectionTimeoutMillis: 3000 });
    c.on('error', () => undefined);
    await expect(c.connect()).rejects.toThrow(/no encryption/);
  });

  describe('a node verified by its tlsServerName (the lab certificates carry DNS:<node>.<zone>) while dialed by IP', () => {
    const name = `pg1.${LAB_ZONE_NAME}`;
    const byName = (serverName: string) =>
      new PgNodeAdapter(
        parsePgConfig({
          user: LAB_DB_USER,
          password: LAB_DB_PASSWORD,
          ssl: pgSsl('verify-full', labCaPem(), { pg1: serverName }),
        }),
      );
    /** psql (libpq, as a walreceiver, pg_rewind and pg_basebackup connect) with the host-side TLS keywords. */
    const psql = (serverName: string) =>
      spawnSync(
        '/usr/lib/postgresql/15/bin/psql',
        [
          buildConninfo({
            host: '127.0.0.1',
            port: ep('pg1').port,
            user: LAB_DB_USER,
            dbname: LAB_DB_NAME,
            connectTimeoutSec: 3,
            tlsKeywords: libpqTlsKeywords('verify-full', LAB_CA_FILE, { address: '127.0.0.1', serverName }),
          }),
          '-XAtc',
          'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
        ],
        { env: { ...process.env, PGPASSWORD: LAB_DB_PASSWORD }, encoding: 'utf8', timeout: 20000 },
      );

    it('the controller (node TLS) checks the name, not the address, and refuses a name the certificate lacks', async () => {
      expect(await byName(name).probe(ep('pg1'))).toMatchObject({ ok: true, role: 'primary' });
      const err = await byName('pg1.elsewhere.example')
        .promote(ep('pg1'), { timeoutMs: 1500 })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NodeTlsError);
      expect((err as Error).message).toMatch(/pg1\.elsewhere\.example/);
    });

    it('libpq with host=<name> hostaddr=<ip> verifies by name without DNS, and refuses a name the certificate lacks', () => {
      const ok = psql(name);
      expect(ok.stderr).toBe('');
      expect(ok.stdout.trim()).toBe('t');
      const bad = psql('pg1.elsewhere.example');
      expect(bad.status).not.toBe(0);
      expect(bad.stderr).toMatch(/server certificate for .* does not match host name "pg1\.elsewhere\.example"/);
    });
  });
});
