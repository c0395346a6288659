import fc from 'fast-check';
import { compareLsn, formatLsn, lsnDiff, maxLsn, parseLsn, ValidationError } from '../../lambdas/core';

describe('LSN arithmetic', () => {
  it.each([
    ['0/0', 0n],
    ['0/3000000', 0x3000000n],
    ['16/B374D848', (0x16n << 32n) | 0xb374d848n],
    ['FFFFFFFF/FFFFFFFF', 0xffffffffffffffffn],
  ])('parses %s exactly', (text, value) => {
    expect(parseLsn(text)).toBe(value);
    expect(formatLsn(value)).toBe(text);
  });

  it.each(['', '0', '0/', '/0', 'G/0', '0/123456789', '1/2/3', ' 0/ 1'])(
    'rejects malformed %p with a ValidationError',
    (bad) => {
      expect(() => parseLsn(bad)).toThrow(ValidationError);
      expect(() => parseLsn(bad)).toThrow(/malformed LSN/);
    },
  );

  it('subtracts across the 32-bit boundary and past 2^53 without rounding', () => {
    expect(lsnDiff('1/0', '0/FFFFFFFF')).toBe(1n);
    expect(lsnDiff('FFFFFFFF/FFFFFFFF', '0/0')).toBe(2n ** 64n - 1n);
    expect(lsnDiff('0/10', '0/20')).toBe(-16n);
  });

  it('finds the maximum', () => {
    expect(maxLsn(['0/5', '1/0', '0/FFFFFFFF'])).toBe('1/0');
    expect(maxLsn([])).toBeUndefined();
  });

  const lsn = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });

  it('round-trips format/parse (property)', () => {
    fc.assert(fc.property(lsn, (x) => parseLsn(formatLsn(x)) === x));
  });

  it('orders consistently with subtraction (property)', () => {
    fc.assert(
      fc.property(lsn, lsn, (a, b) => {
        const c = compareLsn(formatLsn(a), formatLsn(b));
        const d = lsnDiff(formatLsn(a), formatLsn(b));
        return c === -compareLsn(formatLsn(b), formatLsn(a)) && Math.sign(Number(d)) === c && d + b === a;
      }),
    );
  });
});
