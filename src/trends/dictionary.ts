/*
 * The normalizer's dictionary of known entities (docs/trends.md, "Symbols"): tickers, teams,
 * people, places and brands, each with the words it is written with and the symbol words it maps
 * to, under a category whose prefix starts the symbol. A person's category has no prefix: a name
 * is specific enough on its own ("DJ Zinhle dance challenge" → SA_DJ_ZINHLE_001).
 *
 * Aliases are matched on folded words (lower-case ASCII, accents removed, see symbols.ts), longest
 * alias first; an alias is a sequence of words, so "all blacks" matches two words in a row. The
 * list is data: appending an entry never changes a symbol already given (symbols are stored once
 * given, see the registry in symbols.ts), it only shapes new ones.
 */

export const CATEGORY_PREFIXES = {
  crypto: 'CRYPTO',
  sports: 'SPORTS',
  music: 'MUSIC',
  politics: 'POLITICS',
  finance: 'FIN',
  tech: 'TECH',
  weather: 'WEATHER',
  entertainment: 'ENT',
  person: '',
} as const;

export type Category = keyof typeof CATEGORY_PREFIXES;
export const CATEGORIES = Object.keys(CATEGORY_PREFIXES) as readonly Category[];

export interface Entity {
  /** Folded word sequences that name it (lower case, ASCII, single spaces). */
  readonly aliases: readonly string[];
  /** The symbol words, upper-case ASCII joined by `_`. */
  readonly words: string;
  readonly category: Category;
}

const entity = (category: Category, words: string, ...aliases: string[]): Entity => ({
  aliases,
  words,
  category,
});

export const ENTITIES: readonly Entity[] = [
  // Crypto tickers.
  entity('crypto', 'BTC', 'bitcoin', 'btc', 'bitcoins'),
  entity('crypto', 'ETH', 'ethereum', 'eth', 'ether'),
  entity('crypto', 'SOL', 'solana'),
  entity('crypto', 'XRP', 'xrp', 'ripple'),
  entity('crypto', 'DOGE', 'dogecoin', 'doge'),
  entity('crypto', 'ADA', 'cardano'),
  entity('crypto', 'USDT', 'tether', 'usdt'),
  entity('crypto', 'USDC', 'usdc', 'usd coin'),
  entity('crypto', 'BNB', 'bnb', 'binance coin'),
  entity('crypto', 'ROSE', 'oasis network', 'oasis rose'),
  // Teams.
  entity('sports', 'SPRINGBOKS', 'springboks', 'springbok', 'bokke', 'the boks'),
  entity('sports', 'BAFANA', 'bafana bafana', 'bafana'),
  entity('sports', 'BANYANA', 'banyana banyana', 'banyana'),
  entity('sports', 'PROTEAS', 'proteas'),
  entity('sports', 'ALL_BLACKS', 'all blacks'),
  entity('sports', 'KAIZER_CHIEFS', 'kaizer chiefs', 'amakhosi'),
  entity('sports', 'ORLANDO_PIRATES', 'orlando pirates', 'bucs'),
  entity('sports', 'SUNDOWNS', 'mamelodi sundowns', 'sundowns', 'masandawana'),
  entity('sports', 'STORMERS', 'stormers'),
  entity('sports', 'BULLS', 'vodacom bulls', 'blue bulls'),
  entity('sports', 'MAN_UTD', 'manchester united', 'man united', 'man utd'),
  entity('sports', 'ARSENAL', 'arsenal'),
  entity('sports', 'LIVERPOOL', 'liverpool fc', 'liverpool'),
  entity('sports', 'REAL_MADRID', 'real madrid'),
  entity('sports', 'BARCELONA', 'fc barcelona', 'barca'),
  entity('sports', 'WORLD_CUP', 'world cup'),
  entity('sports', 'AFCON', 'afcon', 'africa cup of nations'),
  // People.
  entity('person', 'DJ_ZINHLE', 'dj zinhle', 'zinhle'),
  entity('person', 'BLACK_COFFEE', 'black coffee'),
  entity('person', 'TYLA', 'tyla'),
  entity('person', 'MASTER_KG', 'master kg'),
  entity('person', 'KABZA', 'kabza de small', 'kabza'),
  entity('person', 'CASSPER', 'cassper nyovest', 'cassper'),
  entity('person', 'NASTY_C', 'nasty c'),
  entity('person', 'SIYA_KOLISI', 'siya kolisi', 'kolisi'),
  entity('person', 'TREVOR_NOAH', 'trevor noah'),
  entity('person', 'ELON_MUSK', 'elon musk', 'musk'),
  entity('person', 'RAMAPHOSA', 'cyril ramaphosa', 'ramaphosa'),
  entity('person', 'MALEMA', 'julius malema', 'malema'),
  entity('person', 'BEYONCE', 'beyonce'),
  entity('person', 'TAYLOR_SWIFT', 'taylor swift'),
  // Politics, finance, weather, tech, entertainment.
  entity('politics', 'ANC', 'anc'),
  entity('politics', 'DA', 'democratic alliance'),
  entity('politics', 'EFF', 'eff', 'economic freedom fighters'),
  entity('politics', 'ELECTIONS', 'elections', 'election'),
  entity('finance', 'RAND', 'rand', 'zar', 'rands'),
  entity('finance', 'JSE', 'jse', 'johannesburg stock exchange'),
  entity('finance', 'SARB', 'reserve bank', 'sarb'),
  entity('finance', 'NASDAQ', 'nasdaq'),
  entity('finance', 'TSLA', 'tesla', 'tsla'),
  entity('finance', 'NVDA', 'nvidia', 'nvda'),
  entity('weather', 'LOADSHEDDING', 'load shedding', 'loadshedding', 'eskom'),
  entity('weather', 'HEATWAVE', 'heatwave', 'heat wave'),
  entity('tech', 'OPENAI', 'openai', 'chatgpt'),
  entity('tech', 'IPHONE', 'iphone'),
  entity('entertainment', 'IDOLS', 'idols sa', 'idols'),
  entity('entertainment', 'BIG_BROTHER', 'big brother mzansi', 'big brother'),
  entity('music', 'AMAPIANO', 'amapiano'),
];

/**
 * Words that never make a symbol on their own: function words and the generic words trends are
 * described with ("challenge", "price", "spike"). Folded forms.
 */
export const STOPWORDS: ReadonlySet<string> = new Set(
  (
    'a an the and or of in on at to for with by from as is are was were be been it its this that ' +
    'these those vs v x after before over under new now just again about how why what who when ' +
    'today tonight live viral trend trending news breaking video challenge dance price spike crash ' +
    'rally pump dump win wins won lose loses lost beat beats match game final update reaction memes ' +
    'meme goes going gets big huge day week'
  ).split(' '),
);
