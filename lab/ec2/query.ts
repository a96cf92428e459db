// Decoding of AWS Query-protocol request parameters (EC2, IAM and STS share the form encoding).
// EC2 serialises lists as `Prefix.N[.Member]` (`DiskContainer.1.UserBucket.S3Key`, `Filter.1.Value.2`);
// IAM/STS use `Prefix.member.N`. Both shapes are handled here.
import { Ec2Error } from './errors.ts';

export class Params {
  private readonly map: ReadonlyMap<string, string>;

  constructor(entries: Iterable<[string, string]>) {
    this.map = new Map(entries);
  }

  has(key: string): boolean {
    return this.map.has(key);
  }

  str(key: string): string | undefined {
    const value = this.map.get(key);
    return value === undefined || value === '' ? undefined : value;
  }

  required(key: string): string {
    const value = this.str(key);
    if (value === undefined) throw new Ec2Error('MissingParameter', `The request must contain the parameter ${key}.`);
    return value;
  }

  int(key: string): number | undefined {
    const value = this.str(key);
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isInteger(n)) throw new Ec2Error('InvalidParameterValue', `Value (${value}) for parameter ${key} is invalid. Expected an integer.`);
    return n;
  }

  bool(key: string): boolean | undefined {
    const value = this.str(key);
    return value === undefined ? undefined : value.toLowerCase() === 'true';
  }

  /** Parameters below `prefix.` with the prefix removed. */
  sub(prefix: string): Params {
    const head = `${prefix}.`;
    const out: [string, string][] = [];
    for (const [k, v] of this.map) if (k.startsWith(head)) out.push([k.slice(head.length), v]);
    return new Params(out);
  }

  /** Indexes N present under `prefix.N…`, ascending. */
  private indexes(prefix: string): number[] {
    const head = `${prefix}.`;
    const found = new Set<number>();
    for (const k of this.map.keys()) {
      if (!k.startsWith(head)) continue;
      const n = Number(k.slice(head.length).split('.')[0]);
      if (Number.isInteger(n) && n > 0) found.add(n);
    }
    return [...found].sort((a, b) => a - b);
  }

  /** Scalar list `Prefix.N` (EC2) or `Prefix.member.N` (IAM/STS). */
  list(prefix: string): string[] {
    const values = (p: string) =>
      this.indexes(p)
        .map((n) => this.str(`${p}.${n}`))
        .filter((v): v is string => v !== undefined);
    const direct = values(prefix);
    return direct.length > 0 ? direct : values(`${prefix}.member`);
  }

  /** Structure list `Prefix.N.Field…`, one Params per element. */
  structs(prefix: string): Params[] {
    return this.indexes(prefix).map((n) => this.sub(`${prefix}.${n}`));
  }

  /** All parameter names, for idempotency fingerprints. */
  entries(): [string, string][] {
    return [...this.map.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }
}

export interface Filter {
  name: string;
  values: string[];
}

/** `Filter.N.Name` / `Filter.N.Value.M`; DescribeImportImageTasks spells the list `Filters`. */
export function readFilters(params: Params): Filter[] {
  return [...params.structs('Filter'), ...params.structs('Filters')].map((f) => ({
    name: f.required('Name'),
    values: f.list('Value'),
  }));
}

export interface Tag {
  key: string;
  value: string;
}

export function readTags(params: Params, prefix = 'Tag'): Tag[] {
  return params.structs(prefix).map((t) => ({ key: t.required('Key'), value: t.str('Value') ?? '' }));
}

/** Tags of `TagSpecification.N` whose ResourceType is `resourceType`. */
export function readTagSpecifications(params: Params, resourceType: string): Tag[] {
  return params
    .structs('TagSpecification')
    .filter((s) => s.str('ResourceType') === resourceType)
    .flatMap((s) => readTags(s));
}

/** EC2 filter values accept `*` and `?` wildcards. */
export function wildcardMatch(pattern: string, value: string): boolean {
  if (!/[*?]/.test(pattern)) return pattern === value;
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 's').test(value);
}

/**
 * Applies filters to items. `fields` maps each supported filter name to the item's value(s);
 * `tag:<key>` and `tag-key` are handled for items with tags. Unknown names are rejected like EC2 does.
 */
export function applyFilters<T>(
  items: T[],
  filters: Filter[],
  fields: Record<string, (item: T) => string | string[] | undefined>,
  tagsOf?: (item: T) => Tag[],
): T[] {
  for (const f of filters) {
    const known = f.name in fields || (tagsOf !== undefined && (f.name === 'tag-key' || f.name.startsWith('tag:')));
    if (!known) throw new Ec2Error('InvalidParameterValue', `The filter '${f.name}' is invalid`);
  }
  return items.filter((item) =>
    filters.every((f) => {
      let values: string[];
      if (f.name === 'tag-key' && tagsOf) values = tagsOf(item).map((t) => t.key);
      else if (f.name.startsWith('tag:') && tagsOf) {
        const key = f.name.slice(4);
        values = tagsOf(item).filter((t) => t.key === key).map((t) => t.value);
      } else {
        const v = fields[f.name]?.(item);
        values = v === undefined ? [] : Array.isArray(v) ? v : [v];
      }
      return f.values.some((pattern) => values.some((v) => wildcardMatch(pattern, v)));
    }),
  );
}

/** Opaque NextToken paging over an already filtered list. */
export function paginate<T>(items: T[], maxResults: number | undefined, nextToken: string | undefined): { page: T[]; nextToken?: string } {
  let start = 0;
  if (nextToken !== undefined) {
    const decoded = Number(Buffer.from(nextToken, 'base64url').toString('utf8').replace(/^offset:/, ''));
    if (!Number.isInteger(decoded) || decoded < 0) throw new Ec2Error('InvalidNextToken', 'The specified NextToken is not valid.');
    start = decoded;
  }
  if (maxResults === undefined) return { page: items.slice(start) };
  const end = start + maxResults;
  const page = items.slice(start, end);
  return end < items.length ? { page, nextToken: Buffer.from(`offset:${end}`).toString('base64url') } : { page };
}
