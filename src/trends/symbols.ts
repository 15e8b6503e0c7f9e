import { CATEGORY_PREFIXES, ENTITIES, STOPWORDS, type Category, type Entity } from './dictionary.ts';

/*
 * The symbol normalizer (PROTOCOL v1.1, Trend markets; docs/trends.md "Symbols"): a topic and a
 * region become `VIRAL/<REGION>_<WORDS>_<NNN>`. Pure and deterministic: no clock, no randomness,
 * no I/O; the registry below is plain state the service loads from and saves to Postgres.
 *
 * 1. Fold: NFKD, combining marks dropped (é → e), a few letters spelled out (ß → SS, æ → AE, ø → O,
 *    ł → L, đ → D, þ → TH); a possessive 's dropped; every other character that is not an ASCII
 *    letter or digit separates words (emoji, punctuation, other scripts).
 * 2. Known entities: the dictionary's aliases, longest first, over the folded lower-case words.
 *    When the topic names any, the stem is the first entity's category prefix and the symbol words
 *    of up to three entities, in the order they appear; the rest of the topic is dropped.
 * 3. Otherwise proper nouns: of the words that are not stopwords, those written with a capital (a
 *    topic in one case only has no such signal: then all of them), at most three, each cut to 12
 *    characters; the request's `category` (when one of the dictionary's) gives the prefix.
 * 4. Nothing left (emoji only, another script): the stem is `TOPIC_` and seven base-36 digits of the
 *    FNV-1a hash of the topic's key, so such topics still get stable, distinct symbols.
 * 5. ASCII upper case, words joined by `_`; a per-stem counter from 001: the same topic (its key:
 *    NFKC, lower case, whitespace collapsed, plus region) always gets the symbol it got first, a
 *    different topic with the same stem the next number.
 */

export const REGION = /^[A-Z]{2,3}$/;
const MAX_WORDS = 3;
const MAX_WORD_CHARS = 12;
const MAX_ALIAS_WORDS = 4;

export interface Normalized {
  /** The topic's identity: NFKC, lower case, whitespace collapsed, with its region. */
  readonly key: string;
  readonly region: string;
  /** The symbol's words between the region and the number (`CRYPTO_BTC`). */
  readonly stem: string;
}

export interface SymbolAssignment extends Normalized {
  readonly symbol: string;
  readonly number: number;
  readonly topic: string;
  /** True when this call gave the topic its symbol (the registry changed). */
  readonly created: boolean;
}

const SPELLED: Readonly<Record<string, string>> = {
  ß: 'ss',
  ẞ: 'SS',
  æ: 'ae',
  Æ: 'AE',
  œ: 'oe',
  Œ: 'OE',
  ø: 'o',
  Ø: 'O',
  ł: 'l',
  Ł: 'L',
  đ: 'd',
  Đ: 'D',
  þ: 'th',
  Þ: 'TH',
  ð: 'd',
  Ð: 'D',
  ı: 'i',
};
const SPELLED_CHARS = new RegExp(`[${Object.keys(SPELLED).join('')}]`, 'gu');
const MARKS = /\p{M}/gu;
const POSSESSIVE = /['’]s\b/giu;
const APOSTROPHES = /['’]/gu;
const WORD = /[A-Za-z0-9]+/g;

/** The topic's key: what makes two topics the same topic (region added). */
export function topicKey(topic: string, region: string): string {
  return `${region}|${topic.normalize('NFKC').toLowerCase().replace(/\s+/gu, ' ').trim()}`;
}

/** The topic as ASCII words, original case kept (step 1). */
export function foldWords(topic: string): string[] {
  const folded = topic
    .normalize('NFKD')
    .replace(MARKS, '')
    .replace(SPELLED_CHARS, (c) => SPELLED[c] ?? '')
    .replace(POSSESSIVE, '')
    .replace(APOSTROPHES, '');
  return folded.match(WORD) ?? [];
}

interface AliasIndex {
  /** alias (folded words joined by one space) → entity */
  readonly byAlias: ReadonlyMap<string, Entity>;
}

function indexAliases(entities: readonly Entity[]): AliasIndex {
  const byAlias = new Map<string, Entity>();
  for (const entity of entities) {
    for (const alias of entity.aliases) {
      if (alias.split(' ').length > MAX_ALIAS_WORDS) throw new Error(`alias "${alias}" is too long`);
      if (byAlias.has(alias)) throw new Error(`alias "${alias}" names two entities`);
      byAlias.set(alias, entity);
    }
  }
  return { byAlias };
}

const DEFAULT_INDEX = indexAliases(ENTITIES);

/** The entities the words name, in order of appearance, each once (step 2). */
function entitiesIn(lower: readonly string[], index: AliasIndex): Entity[] {
  const found: Entity[] = [];
  for (let i = 0; i < lower.length;) {
    let matched = 0;
    for (let n = Math.min(MAX_ALIAS_WORDS, lower.length - i); n >= 1 && matched === 0; n--) {
      const entity = index.byAlias.get(lower.slice(i, i + n).join(' '));
      if (entity !== undefined) {
        if (!found.includes(entity)) found.push(entity);
        matched = n;
      }
    }
    i += matched === 0 ? 1 : matched;
  }
  return found;
}

/** 32-bit FNV-1a over the UTF-16 code units of `text`. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/** Steps 1–4: the topic's key and stem (no number: that is the registry's). */
export function normalizeTopic(
  topic: string,
  region: string,
  category?: string,
  entities: readonly Entity[] = ENTITIES,
): Normalized {
  if (!REGION.test(region)) throw new RangeError(`region must be 2-3 of A-Z, got ${JSON.stringify(region)}`);
  const index = entities === ENTITIES ? DEFAULT_INDEX : indexAliases(entities);
  const key = topicKey(topic, region);
  const words = foldWords(topic);
  const lower = words.map((w) => w.toLowerCase());
  const known = entitiesIn(lower, index);
  let parts: string[];
  if (known.length > 0) {
    const prefix = CATEGORY_PREFIXES[known[0]!.category];
    parts = [prefix, ...known.slice(0, MAX_WORDS).map((e) => e.words)];
  } else {
    const content = words.filter((_, i) => !STOPWORDS.has(lower[i]!));
    const cased = /[A-Z]/.test(words.join('')) && /[a-z]/.test(words.join(''));
    const proper = cased ? content.filter((w) => /^[A-Z0-9]/.test(w)) : content;
    const chosen = (proper.length > 0 ? proper : content)
      .slice(0, MAX_WORDS)
      .map((w) => w.slice(0, MAX_WORD_CHARS));
    const prefix = isCategory(category) ? CATEGORY_PREFIXES[category] : '';
    parts = chosen.length > 0 ? [prefix, ...chosen] : [`TOPIC_${fnv1a(key).toString(36).padStart(7, '0')}`];
  }
  const stem = parts
    .filter((p) => p !== '')
    .join('_')
    .toUpperCase();
  return { key, region, stem };
}

export function isCategory(category: string | undefined): category is Category {
  return category !== undefined && Object.hasOwn(CATEGORY_PREFIXES, category);
}

export function formatSymbol(region: string, stem: string, number: number): string {
  return `VIRAL/${region}_${stem}_${String(number).padStart(3, '0')}`;
}

/** A symbol the registry gave, as stored. */
export interface RegisteredTopic {
  readonly key: string;
  readonly topic: string;
  readonly region: string;
  readonly stem: string;
  readonly number: number;
  readonly symbol: string;
}

/**
 * Step 5: the per-stem counter and the symbols given so far (state the service keeps, loaded from
 * the trend_topics table at start). `assign` is deterministic given the registry's contents.
 */
export class SymbolRegistry {
  readonly #byKey = new Map<string, RegisteredTopic>();
  readonly #bySymbol = new Map<string, RegisteredTopic>();
  readonly #lastByStem = new Map<string, number>();

  constructor(stored: readonly RegisteredTopic[] = []) {
    for (const topic of stored) this.add(topic);
  }

  /** Adds a stored (or just assigned) topic; throws on a key or symbol given twice. */
  add(topic: RegisteredTopic): void {
    if (this.#byKey.has(topic.key)) throw new Error(`topic ${topic.key} has a symbol already`);
    if (this.#bySymbol.has(topic.symbol)) throw new Error(`symbol ${topic.symbol} is given already`);
    this.#byKey.set(topic.key, topic);
    this.#bySymbol.set(topic.symbol, topic);
    const stemKey = `${topic.region}_${topic.stem}`;
    this.#lastByStem.set(stemKey, Math.max(this.#lastByStem.get(stemKey) ?? 0, topic.number));
  }

  /** The topic's symbol: the one it has, or the next of its stem (not added: see `add`). */
  assign(topic: string, region: string, category?: string): SymbolAssignment {
    // The key first: a known topic (every update after its first) skips the folding.
    const existing = this.#byKey.get(topicKey(topic, region));
    if (existing !== undefined) return { ...existing, created: false };
    const normalized = normalizeTopic(topic, region, category);
    const number = (this.#lastByStem.get(`${region}_${normalized.stem}`) ?? 0) + 1;
    const symbol = formatSymbol(region, normalized.stem, number);
    return { ...normalized, number, symbol, topic, created: true };
  }

  /** The stored topic of this text and region, if it has a symbol already (no folding). */
  known(topic: string, region: string): RegisteredTopic | undefined {
    return this.#byKey.get(topicKey(topic, region));
  }

  bySymbol(symbol: string): RegisteredTopic | undefined {
    return this.#bySymbol.get(symbol);
  }

  get size(): number {
    return this.#byKey.size;
  }
}
