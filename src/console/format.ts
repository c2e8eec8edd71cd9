/**
 * Amounts in their unit. Money is int64 minor units everywhere: formatting
 * and parsing work on bigint and strings only, never on floating point.
 */

/** Units counted in hundredths of a currency: <ISO code>_CENTS (USD_CENTS, EUR_CENTS...). */
const CENTS_UNIT = /^([A-Z]{3})_CENTS$/;

const CURRENCY_SYMBOLS: Readonly<Record<string, string>> = { USD: "$", EUR: "€", GBP: "£" };

/** Counted units and their singular and plural words. */
const COUNTED_UNITS: Readonly<Record<string, readonly [string, string]>> = {
  CREDITS: ["credit", "credits"],
  SEATS: ["seat", "seats"],
};

/** "$1,234.05", "-€0.50", "3 credits", "1 seat", "7 POINTS". */
export function formatAmount(minor: bigint, unit: string): string {
  const sign = minor < 0n ? "-" : "";
  const magnitude = minor < 0n ? -minor : minor;
  const currency = CENTS_UNIT.exec(unit)?.[1];
  if (currency !== undefined) {
    const whole = groupThousands((magnitude / 100n).toString());
    const cents = (magnitude % 100n).toString().padStart(2, "0");
    const symbol = CURRENCY_SYMBOLS[currency];
    return symbol === undefined
      ? `${sign}${whole}.${cents} ${currency}`
      : `${sign}${symbol}${whole}.${cents}`;
  }
  const words = COUNTED_UNITS[unit];
  const count = `${sign}${groupThousands(magnitude.toString())}`;
  if (words === undefined) {
    return `${count} ${unit}`;
  }
  return `${count} ${magnitude === 1n ? words[0] : words[1]}`;
}

/** As formatAmount, with an explicit "+" on credits: for history rows. */
export function formatSignedAmount(minor: bigint, unit: string): string {
  return minor > 0n ? `+${formatAmount(minor, unit)}` : formatAmount(minor, unit);
}

/** What a user types for an amount in `unit`: "2", "-2", and for cents units "1.5" or "1.50". */
export function parseAmount(text: string, unit: string): bigint {
  const trimmed = text.trim().replace(/^\+/, "");
  if (CENTS_UNIT.test(unit)) {
    const match = /^(-?)(\d{1,17})(?:\.(\d{1,2}))?$/.exec(trimmed);
    if (match === null) {
      throw new AmountSyntaxError(`"${text}" is not an amount in ${unit} (e.g. 12.50)`);
    }
    const [, sign = "", whole = "0", fraction = ""] = match;
    const minor = BigInt(whole) * 100n + BigInt(fraction.padEnd(2, "0") || "0");
    return sign === "-" ? -minor : minor;
  }
  if (!/^-?\d{1,19}$/.test(trimmed)) {
    throw new AmountSyntaxError(`"${text}" is not a whole number of ${unit}`);
  }
  return BigInt(trimmed);
}

export class AmountSyntaxError extends Error {
  override readonly name = "AmountSyntaxError";
}

function groupThousands(digits: string): string {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}
