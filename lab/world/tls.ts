import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { postgresUser } from './os-user';
import { LAB_DIR } from './paths';

/**
 * The lab's TLS material: a CA generated at `lab up` and one server certificate per node, outside every data
 * directory (pg_basebackup and pg_rewind replace PGDATA's contents; the postmaster is started with ssl_cert_file /
 * ssl_key_file on its command line, so a copied postgresql.conf never points a node at another node's key).
 */
export const LAB_TLS_DIR = path.join(LAB_DIR, 'tls');
/** The lab CA's certificate: what the functions, the CLI, the tests and the replicas verify the nodes against. */
export const LAB_CA_FILE = path.join(LAB_TLS_DIR, 'ca.crt');

/** A node's certificate and key. */
export function labServerCert(node: string): { cert: string; key: string } {
  return { cert: path.join(LAB_TLS_DIR, `${node}.crt`), key: path.join(LAB_TLS_DIR, `${node}.key`) };
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** openssl req arguments for a new unencrypted P-256 key (the CA's and every server's). */
const NEW_P256_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** Creates a self-signed CA (P-256, valid 30 days) as `<dir>/<name>.crt` and `.key`; returns the paths. */
export function makeCa(dir: string, name: string, cn: string): { cert: string; key: string } {
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  openssl([
    'req',
    '-x509',
    ...NEW_P256_KEY,
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '30',
    '-subj',
    `/CN=${cn}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  fs.chmodSync(cert, 0o644);
  return { cert, key };
}

/**
 * Issues a server certificate from `ca` with the given subject alternative names (`IP:127.0.0.1`,
 * `DNS:pg1.example`). The key is made readable by `postgres` only, as the server demands of ssl_key_file.
 */
export function makeServerCert(
  ca: { cert: string; key: string },
  out: { cert: string; key: string },
  cn: string,
  sans: readonly string[],
): void {
  const csr = `${out.cert}.csr`;
  const ext = `${out.cert}.ext`;
  openssl(['req', ...NEW_P256_KEY, '-keyout', out.key, '-out', csr, '-subj', `/CN=${cn}`]);
  fs.writeFileSync(
    ext,
    `subjectAltName=${sans.join(',')}\nextendedKeyUsage=serverAuth\nbasicConstraints=critical,CA:FALSE\n`,
  );
  openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-CAcreateserial',
    '-days',
    '30',
    '-out',
    out.cert,
    '-extfile',
    ext,
  ]);
  fs.rmSync(csr, { force: true });
  fs.rmSync(ext, { force: true });
  fs.chmodSync(out.cert, 0o644);
  fs.chmodSync(out.key, 0o600);
  if (process.getuid?.() === 0) {
    const u = postgresUser();
    fs.chownSync(out.key, u.uid, u.gid);
    fs.chownSync(out.cert, u.uid, u.gid);
  }
}

/**
 * A fresh lab CA and a certificate per node. Every node listens on 127.0.0.1, which is what the controller
 * dials, so each certificate carries that IP SAN (verify-full checks it) and its node's name under the lab zone.
 * Loopback means the IP SAN cannot tell one lab node from another; a certificate from any other CA is refused.
 */
export function generateLabTls(nodes: readonly string[], zone: string): void {
  fs.rmSync(LAB_TLS_DIR, { recursive: true, force: true });
  const ca = makeCa(LAB_TLS_DIR, 'ca', 'pgquorum lab CA');
  fs.chmodSync(LAB_TLS_DIR, 0o755);
  for (const n of nodes) makeServerCert(ca, labServerCert(n), `${n}.${zone}`, ['IP:127.0.0.1', `DNS:${n}.${zone}`]);
}

/** The lab CA's PEM text (read on each call: a new `lab up` makes a new CA). */
export function labCaPem(): string {
  return fs.readFileSync(LAB_CA_FILE, 'utf8');
}
