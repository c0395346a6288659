import http from 'node:http';
import { AwsProxy, parseChangeBatch, serviceOf } from '../../lab/world/aws-proxy';
import { cloudProfile } from '../../lab/world/cloud-profile';

describe('the lab AWS endpoint: which service a call is for', () => {
  it.each([
    [
      { authorization: 'AWS4-HMAC-SHA256 Credential=test/20261201/us-east-1/route53/aws4_request, SignedHeaders=host' },
      'route53',
    ],
    [{ authorization: 'AWS4-HMAC-SHA256 Credential=test/20261201/us-east-1/states/aws4_request' }, 'states'],
    [{ 'x-amz-target': 'DynamoDB_20120810.GetItem' }, 'dynamodb'],
    [{ 'x-amz-target': 'AmazonSSM.SendCommand' }, 'ssm'],
    [{}, 'default'],
  ])('%j -> %s', (headers, service) => {
    expect(serviceOf(headers)).toBe(service);
  });
});

describe('the lab AWS endpoint: the A records a change batch sets', () => {
  const change = (action: string, name: string, type: string, ips: string[], ttl = 5) =>
    `<Change><Action>${action}</Action><ResourceRecordSet><Name>${name}</Name><Type>${type}</Type><TTL>${ttl}</TTL>` +
    `<ResourceRecords>${ips.map((ip) => `<ResourceRecord><Value>${ip}</Value></ResourceRecord>`).join('')}</ResourceRecords>` +
    '</ResourceRecordSet></Change>';
  const batch = (...c: string[]) =>
    `<?xml version="1.0"?><ChangeResourceRecordSetsRequest><ChangeBatch><Changes>${c.join('')}</Changes></ChangeBatch></ChangeResourceRecordSetsRequest>`;

  it('reads names (trailing dot dropped), values and TTL; a DELETE leaves no record; other types are ignored', () => {
    expect(
      parseChangeBatch(
        batch(
          change('UPSERT', 'writer.lab.', 'A', ['10.42.2.10'], 1),
          change('UPSERT', 'reader.lab', 'A', ['10.42.1.10', '10.42.3.10']),
          change('DELETE', 'old.lab', 'A', ['10.42.9.9']),
          change('UPSERT', 'txt.lab', 'TXT', ['"x"']),
        ),
      ),
    ).toEqual({
      'writer.lab': { ips: ['10.42.2.10'], ttlSec: 1 },
      'reader.lab': { ips: ['10.42.1.10', '10.42.3.10'], ttlSec: 5 },
      'old.lab': { ips: [], ttlSec: 5 },
    });
  });
});

describe('the lab AWS endpoint: Route 53 propagation', () => {
  const changeXml = (status: string) =>
    `<?xml version="1.0"?><R><ChangeInfo><Id>/change/C1</Id><Status>${status}</Status></ChangeInfo></R>`;
  let upstream: http.Server;
  let proxy: AwsProxy;
  const auth = { authorization: 'AWS4-HMAC-SHA256 Credential=test/20261201/us-east-1/route53/aws4_request' };
  const call = async (method: string, path: string, body?: string) => {
    const r = await fetch(`http://127.0.0.1:${proxy.boundPort}${path}`, { method, headers: auth, body });
    return { text: await r.text(), at: Date.now() };
  };

  beforeAll(async () => {
    // A stand-in emulator that answers as ministack does: INSYNC on GetChange once asked.
    upstream = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => res.end(changeXml(req.method === 'POST' ? 'PENDING' : 'INSYNC')));
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
    const port = (upstream.address() as { port: number }).port;
    const profile = cloudProfile('aws', { route53Propagation: { minMs: 400, maxMs: 400 }, apiLatency: {} });
    proxy = new AwsProxy(
      0,
      port,
      profile,
      async () => ({ ips: ['10.0.0.1'], ttlSec: 1 }),
      () => undefined,
    );
    await proxy.listen();
  });

  afterAll(async () => {
    await proxy.close();
    await new Promise<void>((r) => upstream.close(() => r()));
  });

  it('reports PENDING and shows resolvers the old value until the drawn delay has passed, then INSYNC and the new one', async () => {
    expect(proxy.visibleRecord('writer.lab')).toBeUndefined();
    const batch =
      '<ChangeBatch><Changes><Change><Action>UPSERT</Action><ResourceRecordSet><Name>writer.lab</Name><Type>A</Type>' +
      '<TTL>1</TTL><ResourceRecords><ResourceRecord><Value>10.0.0.2</Value></ResourceRecord></ResourceRecords>' +
      '</ResourceRecordSet></Change></Changes></ChangeBatch>';
    const submitted = await call('POST', '/2013-04-01/hostedzone/Z1/rrset/', batch);
    expect(submitted.text).toContain('<Status>PENDING</Status>');
    const [c] = proxy.trackedChanges();
    expect(c!.visibleAt - c!.submittedAt).toBe(400);
    const early = await call('GET', '/2013-04-01/change/C1');
    expect(early.at).toBeLessThan(c!.visibleAt);
    expect(early.text).toContain('<Status>PENDING</Status>');
    expect(proxy.visibleRecord('writer.lab', early.at)).toEqual({ ips: ['10.0.0.1'], ttlSec: 1 });
    await new Promise((r) => setTimeout(r, c!.visibleAt - Date.now() + 20));
    expect((await call('GET', '/2013-04-01/change/C1')).text).toContain('<Status>INSYNC</Status>');
    expect(proxy.visibleRecord('writer.lab')).toEqual({ ips: ['10.0.0.2'], ttlSec: 1 });
    expect(proxy.calls.route53).toBe(3);
    proxy.forgetChanges();
    expect(proxy.visibleRecord('writer.lab')).toBeUndefined();
  });
});
