/**
 * What confd's `datetime` (Go's time.Now) gives a template: a time with Go's methods, so that
 * `{{datetime.Format "2006-01-02T15:04:05Z07:00"}}` writes what confd writes. Millisecond precision.
 */

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

// Go's layout elements, longest first where one begins another (time/format.go's nextStdChunk).
const LAYOUT =
  /January|Jan(?![a-z])|Monday|Mon(?![a-z])|MST|_2006|2006|002|__2|_2|01|02|03|04|05|06|15|1|2|3|4|5|PM|pm|-07:00:00|-070000|-07:00|-0700|-07|Z07:00:00|Z070000|Z07:00|Z0700|Z07|[.,](?:0+|9+)(?!\d)/g;

const two = (n: number): string => String(n).padStart(2, '0');

/** A *time.Location: printed as its name. */
export class GoLocation {
  constructor(private readonly name: string) {}
  String(): string {
    return this.name;
  }
  goType(): string {
    return '*time.Location';
  }
}

export class GoTime {
  /** `ms` since the epoch; `utc`: shown in UTC rather than the local zone (TZ). */
  constructor(
    private readonly ms: number,
    private readonly utc = false,
  ) {}

  static now(): GoTime {
    return new GoTime(Date.now());
  }

  /** Minutes east of UTC. */
  private offset(): number {
    return this.utc ? 0 : -new Date(this.ms).getTimezoneOffset();
  }

  /** The wall clock in this time's zone, as UTC fields of a Date. */
  private wall(): Date {
    return new Date(this.ms + this.offset() * 60_000);
  }

  private zoneName(): string {
    if (this.utc || this.offset() === 0) return 'UTC';
    const name = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(new Date(this.ms)).find((p) => p.type === 'timeZoneName')?.value ?? '';
    if (/^[A-Z]{3,5}$/.test(name)) return name;
    // No abbreviation: Go then prints the offset, as "+02" or "+0530".
    const off = this.offset();
    const a = Math.abs(off);
    return `${off < 0 ? '-' : '+'}${two(Math.floor(a / 60))}${a % 60 ? two(a % 60) : ''}`;
  }

  private zone(colon: boolean, seconds: boolean, hoursOnly: boolean, z: boolean): string {
    const off = this.offset();
    if (z && off === 0) return 'Z';
    const a = Math.abs(off);
    const h = two(Math.floor(a / 60));
    const m = two(a % 60);
    const s = colon ? ':' : '';
    return `${off < 0 ? '-' : '+'}${h}${hoursOnly ? '' : `${s}${m}`}${seconds ? `${s}00` : ''}`;
  }

  /** Go's Time.Format, with Go's reference time `Mon Jan 2 15:04:05 MST 2006` as the layout. */
  Format(layout: string): string {
    const d = this.wall();
    const year = d.getUTCFullYear();
    const hour = d.getUTCHours();
    const yday = Math.floor((Date.UTC(year, d.getUTCMonth(), d.getUTCDate()) - Date.UTC(year, 0, 1)) / 86_400_000) + 1;
    return layout.replace(LAYOUT, (t) => {
      switch (t) {
        case 'January': return MONTHS[d.getUTCMonth()];
        case 'Jan': return MONTHS[d.getUTCMonth()].slice(0, 3);
        case 'Monday': return DAYS[d.getUTCDay()];
        case 'Mon': return DAYS[d.getUTCDay()].slice(0, 3);
        case 'MST': return this.zoneName();
        case '_2006': return `_${year}`;
        case '2006': return String(year).padStart(4, '0');
        case '06': return two(year % 100);
        case '01': return two(d.getUTCMonth() + 1);
        case '1': return String(d.getUTCMonth() + 1);
        case '02': return two(d.getUTCDate());
        case '_2': return String(d.getUTCDate()).padStart(2, ' ');
        case '2': return String(d.getUTCDate());
        case '002': return String(yday).padStart(3, '0');
        case '__2': return String(yday).padStart(3, ' ');
        case '15': return two(hour);
        case '03': return two(hour % 12 || 12);
        case '3': return String(hour % 12 || 12);
        case '04': return two(d.getUTCMinutes());
        case '4': return String(d.getUTCMinutes());
        case '05': return two(d.getUTCSeconds());
        case '5': return String(d.getUTCSeconds());
        case 'PM': return hour >= 12 ? 'PM' : 'AM';
        case 'pm': return hour >= 12 ? 'pm' : 'am';
        case '-07:00:00': return this.zone(true, true, false, false);
        case '-070000': return this.zone(false, true, false, false);
        case '-07:00': return this.zone(true, false, false, false);
        case '-0700': return this.zone(false, false, false, false);
        case '-07': return this.zone(false, false, true, false);
        case 'Z07:00:00': return this.zone(true, true, false, true);
        case 'Z070000': return this.zone(false, true, false, true);
        case 'Z07:00': return this.zone(true, false, false, true);
        case 'Z0700': return this.zone(false, false, false, true);
        case 'Z07': return this.zone(false, false, true, true);
        default: {
          // A fraction of a second: .000 has fixed digits, .999 drops trailing zeros (and the point with them).
          const digits = `${String(d.getUTCMilliseconds()).padStart(3, '0')}000000`.slice(0, t.length - 1);
          if (t[1] === '0') return t[0] + digits;
          const trimmed = digits.replace(/0+$/, '');
          return trimmed ? t[0] + trimmed : '';
        }
      }
    });
  }

  /** Go's Time.String, without the monotonic clock reading (m=+...) that no config file wants. */
  String(): string {
    return this.Format('2006-01-02 15:04:05.999999999 -0700 MST');
  }

  UTC(): GoTime {
    return new GoTime(this.ms, true);
  }
  Local(): GoTime {
    return new GoTime(this.ms, false);
  }
  Unix(): number {
    return Math.floor(this.ms / 1000);
  }
  UnixNano(): number {
    return this.ms * 1_000_000;
  }
  Year(): number {
    return this.wall().getUTCFullYear();
  }
  /** Go's Month, which prints as its name. */
  Month(): string {
    return MONTHS[this.wall().getUTCMonth()];
  }
  Day(): number {
    return this.wall().getUTCDate();
  }
  Hour(): number {
    return this.wall().getUTCHours();
  }
  Minute(): number {
    return this.wall().getUTCMinutes();
  }
  Second(): number {
    return this.wall().getUTCSeconds();
  }
  Weekday(): string {
    return DAYS[this.wall().getUTCDay()];
  }
  /** Go's YearDay: 1 to 366. */
  YearDay(): number {
    const d = this.wall();
    return Math.floor((Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86_400_000) + 1;
  }
  Nanosecond(): number {
    return (this.ms % 1000) * 1_000_000;
  }
  /** time.Now is never Go's zero time (year 1). */
  IsZero(): boolean {
    return false;
  }
  /** The time's *time.Location, which prints as its name: Local or UTC. */
  Location(): GoLocation {
    return new GoLocation(this.utc ? 'UTC' : 'Local');
  }
  /** Go's AddDate: years, months and days added to the wall clock in the time's zone, normalised (Oct 31 + 1 month is Dec 1). */
  AddDate(years: unknown, months: unknown, days: unknown): GoTime {
    for (const v of [years, months, days]) if (typeof v !== 'number' || !Number.isInteger(v)) throw new Error(`AddDate: wrong type for value; expected int`);
    const [y, m, d] = [years, months, days] as number[];
    const t = new Date(this.ms);
    if (this.utc) t.setUTCFullYear(t.getUTCFullYear() + y, t.getUTCMonth() + m, t.getUTCDate() + d);
    else t.setFullYear(t.getFullYear() + y, t.getMonth() + m, t.getDate() + d);
    return new GoTime(t.getTime(), this.utc);
  }
  /** The type fmt's %T and Go's errors name. */
  goType(): string {
    return 'time.Time';
  }
}
