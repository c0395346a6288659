import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const COMMON = path.join(__dirname, '../../infra/host-scripts/common.sh');
const SCRIPTS = path.join(__dirname, '../../infra/host-scripts');

/** Runs a snippet after sourcing common.sh, with PGDATA under a scratch directory the server's user can write. */
function runCommon(snippet: string, env: Record<string, string>): { dir: string; out: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgq-host-'));
  fs.chmodSync(dir, 0o777);
  const out = execFileSync('bash', ['-c', `. "${COMMON}"; ${snippet}`], {
    env: { PATH: process.env.PATH!, PGDATA: path.join(dir, 'data'), ...env },
    encoding: 'utf8',
  });
  return { dir, out };
}

describe('host scripts: passwords never travel as parameters', () => {
  it('writes a 0600 passfile next to PGDATA, escaping pgpass metacharacters, from environment-only passwords', () => {
    const { dir } = runCommon('write_passfile; echo "$PGPASSFILE"', {
      REWIND_USER: 'pgquorum_rewind',
      REPL_USER: 'replicator',
      REWIND_PASSWORD: 'a:b\\c',
      REPL_PASSWORD: 'r:1',
    });
    const file = path.join(dir, '.pgpass-pgquorum');
    expect(fs.readFileSync(file, 'utf8')).toBe('*:*:*:replicator:r\\:1\n*:*:*:pgquorum_rewind:a\\:b\\\\c\n');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });

  it('holds only the replication password when no rewind role is named (restart, re-clone)', () => {
    const { dir } = runCommon('write_passfile', { REPL_USER: 'u', REPL_PASSWORD: 'p' });
    expect(fs.readFileSync(path.join(dir, '.pgpass-pgquorum'), 'utf8')).toBe('*:*:*:u:p\n');
  });

  it("on EC2 reads the passwords from the hosts' secret named by SECRET_ID (with the instance role)", () => {
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'pgq-bin-'));
    // A stand-in for the AWS CLI: prints the secret string for exactly this call, fails otherwise.
    fs.writeFileSync(
      path.join(bin, 'aws'),
      `#!/bin/sh\n[ "$*" = "secretsmanager get-secret-value --secret-id arn:secret:host --query SecretString --output text" ] || exit 9\necho '{"rewindUsername":"pgquorum_rewind","rewindPassword":"p'"'"'q","replicationUsername":"replicator","replicationPassword":"r$x"}'\n`,
      { mode: 0o755 },
    );
    const { dir } = runCommon('write_passfile', {
      PATH: `${bin}:${process.env.PATH}`,
      SECRET_ID: 'arn:secret:host',
      REWIND_USER: 'pgquorum_rewind',
      REPL_USER: 'replicator',
    });
    expect(fs.readFileSync(path.join(dir, '.pgpass-pgquorum'), 'utf8')).toBe(
      "*:*:*:replicator:r$x\n*:*:*:pgquorum_rewind:p'q\n",
    );
  });

  it('says what the passfile held before (missing, current, stale after a rotation), never its content', () => {
    const state = (dir: string | undefined, pw: string) => {
      const env = { REPL_USER: 'u', REPL_PASSWORD: pw };
      if (!dir) return runCommon('write_passfile; echo "$PGQ_PASSFILE_STATE"', env);
      const out = execFileSync('bash', ['-c', `. "${COMMON}"; write_passfile; echo "$PGQ_PASSFILE_STATE"`], {
        env: { PATH: process.env.PATH!, PGDATA: path.join(dir, 'data'), ...env },
        encoding: 'utf8',
      });
      return { dir, out };
    };
    const first = state(undefined, 'p1');
    expect(first.out.trim()).toBe('missing');
    expect(state(first.dir, 'p1').out.trim()).toBe('current');
    expect(state(first.dir, 'p2').out.trim()).toBe('stale');
    expect(fs.readFileSync(path.join(first.dir, '.pgpass-pgquorum'), 'utf8')).toBe('*:*:*:u:p2\n');
    const script = execFileSync('bash', [path.join(SCRIPTS, 'write-passfile.sh')], {
      env: { PATH: process.env.PATH!, PGDATA: path.join(first.dir, 'data'), REPL_USER: 'u', REPL_PASSWORD: 'p2' },
      encoding: 'utf8',
    });
    expect(script).toBe(`PASSFILE=${first.dir}/.pgpass-pgquorum PASSFILE_STATE=current\n`);
  });

  it('refuses to run without a password source rather than configuring a replica that cannot authenticate', () => {
    expect(() => runCommon('write_passfile', { REPL_USER: 'u' })).toThrow(/no REPL_PASSWORD and no SECRET_ID/);
    expect(() => runCommon('write_passfile', { REPL_USER: 'u', REPL_PASSWORD: 'p', REWIND_USER: 'w' })).toThrow(
      /no REWIND_PASSWORD/,
    );
  });

  it('puts the passfile, not a password, into primary_conninfo', () => {
    const { dir } = runCommon('as_pg mkdir -p "$PGDATA"; configure_standby "host=10.0.0.2 user=replicator" pg1', {});
    const auto = fs.readFileSync(path.join(dir, 'data', 'postgresql.auto.conf'), 'utf8');
    expect(auto).toContain(`primary_conninfo = 'host=10.0.0.2 user=replicator passfile=${dir}/.pgpass-pgquorum'`);
    expect(auto).not.toMatch(/password=/);
  });

  it('no host script reads a password parameter other than through the passfile', () => {
    for (const f of fs.readdirSync(SCRIPTS).filter((n) => n.endsWith('.sh') && n !== 'common.sh')) {
      const src = fs.readFileSync(path.join(SCRIPTS, f), 'utf8');
      expect({ f, mentionsPassword: /PASSWORD/.test(src) }).toEqual({ f, mentionsPassword: false });
    }
  });
});
