import { parseChangeBatch, serviceOf } from '../../lab/aws-proxy';

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
