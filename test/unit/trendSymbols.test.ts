import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ENTITIES } from '../../src/trends/dictionary.ts';
import { foldWords, normalizeTopic, SymbolRegistry } from '../../src/trends/symbols.ts';

/** [topic, region, category, symbol] on a fresh registry: each row its own first number. */
const TABLE: readonly (readonly [string, string, string | undefined, string])[] = [
  // The contract's three examples, exactly.
  ['DJ Zinhle dance challenge', 'SA', undefined, 'VIRAL/SA_DJ_ZINHLE_001'],
  ['Bitcoin price spike', 'SA', undefined, 'VIRAL/SA_CRYPTO_BTC_001'],
  ['Springboks win', 'SA', undefined, 'VIRAL/SA_SPORTS_SPRINGBOKS_001'],
  // Known entities: aliases, case, punctuation, several entities, the category from the dictionary.
  ['bitcoin PRICE spike!!!', 'SA', undefined, 'VIRAL/SA_CRYPTO_BTC_001'],
  ['#Bitcoin to the moon 🚀', 'SA', undefined, 'VIRAL/SA_CRYPTO_BTC_001'],
  ['BTC halving', 'SA', undefined, 'VIRAL/SA_CRYPTO_BTC_001'],
  ['Ethereum merge anniversary', 'SA', undefined, 'VIRAL/SA_CRYPTO_ETH_001'],
  ['Bitcoin and Ethereum rally', 'SA', undefined, 'VIRAL/SA_CRYPTO_BTC_ETH_001'],
  ['Dogecoin pump after Elon Musk tweet', 'SA', undefined, 'VIRAL/SA_CRYPTO_DOGE_ELON_MUSK_001'],
  ['Solana outage', 'NG', undefined, 'VIRAL/NG_CRYPTO_SOL_001'],
  ['Springboks vs All Blacks', 'SA', undefined, 'VIRAL/SA_SPORTS_SPRINGBOKS_ALL_BLACKS_001'],
  ['The Boks lift the trophy', 'SA', undefined, 'VIRAL/SA_SPORTS_SPRINGBOKS_001'],
  ['Bafana Bafana qualify for AFCON', 'SA', undefined, 'VIRAL/SA_SPORTS_BAFANA_AFCON_001'],
  [
    'Kaizer Chiefs vs Orlando Pirates derby',
    'SA',
    undefined,
    'VIRAL/SA_SPORTS_KAIZER_CHIEFS_ORLANDO_PIRATES_001',
  ],
  ['Mamelodi Sundowns champions again', 'SA', undefined, 'VIRAL/SA_SPORTS_SUNDOWNS_001'],
  ['Proteas semi-final', 'SA', undefined, 'VIRAL/SA_SPORTS_PROTEAS_001'],
  ['Siya Kolisi speech', 'SA', undefined, 'VIRAL/SA_SIYA_KOLISI_001'],
  ['Siya Kolisi and the Springboks', 'SA', undefined, 'VIRAL/SA_SIYA_KOLISI_SPRINGBOKS_001'],
  ['Real Madrid v Barca', 'ES', undefined, 'VIRAL/ES_SPORTS_REAL_MADRID_BARCELONA_001'],
  ['World Cup draw', 'SA', undefined, 'VIRAL/SA_SPORTS_WORLD_CUP_001'],
  ['Black Coffee Grammy', 'SA', undefined, 'VIRAL/SA_BLACK_COFFEE_001'],
  ['Tyla new single', 'SA', undefined, 'VIRAL/SA_TYLA_001'],
  ["Tyla's Grammy win", 'SA', undefined, 'VIRAL/SA_TYLA_001'],
  ['Master KG Jerusalema remix', 'SA', undefined, 'VIRAL/SA_MASTER_KG_001'],
  ['Kabza De Small album drop', 'SA', undefined, 'VIRAL/SA_KABZA_001'],
  ['Trevor Noah hosts the Grammys', 'US', undefined, 'VIRAL/US_TREVOR_NOAH_001'],
  ['Cyril Ramaphosa address', 'SA', undefined, 'VIRAL/SA_RAMAPHOSA_001'],
  ['Malema at the EFF rally', 'SA', undefined, 'VIRAL/SA_MALEMA_EFF_001'],
  ['ANC elective conference', 'SA', undefined, 'VIRAL/SA_POLITICS_ANC_001'],
  ['Elections 2029', 'SA', undefined, 'VIRAL/SA_POLITICS_ELECTIONS_001'],
  ['Rand slumps against dollar', 'SA', undefined, 'VIRAL/SA_FIN_RAND_001'],
  ['JSE all share record', 'SA', undefined, 'VIRAL/SA_FIN_JSE_001'],
  ['Tesla earnings', 'US', undefined, 'VIRAL/US_FIN_TSLA_001'],
  ['Nvidia hits 5 trillion', 'US', undefined, 'VIRAL/US_FIN_NVDA_001'],
  ['Load shedding stage 6', 'SA', undefined, 'VIRAL/SA_WEATHER_LOADSHEDDING_001'],
  ['Eskom loadshedding returns', 'SA', undefined, 'VIRAL/SA_WEATHER_LOADSHEDDING_001'],
  ['Heatwave in Gauteng', 'SA', undefined, 'VIRAL/SA_WEATHER_HEATWAVE_001'],
  ['ChatGPT outage', 'SA', undefined, 'VIRAL/SA_TECH_OPENAI_001'],
  ['Big Brother Mzansi finale', 'SA', undefined, 'VIRAL/SA_ENT_BIG_BROTHER_001'],
  ['Amapiano takes over London', 'GB', undefined, 'VIRAL/GB_MUSIC_AMAPIANO_001'],
  // Unknown topics: proper nouns kept, stopwords and generic words dropped, at most three words.
  ['Cape Town marathon', 'SA', undefined, 'VIRAL/SA_CAPE_TOWN_001'],
  ['Table Mountain cable car closed', 'SA', undefined, 'VIRAL/SA_TABLE_MOUNTAIN_001'],
  ['Durban July fashion', 'SA', 'entertainment', 'VIRAL/SA_ENT_DURBAN_JULY_001'],
  ['Jerusalema dance challenge', 'SA', 'music', 'VIRAL/SA_MUSIC_JERUSALEMA_001'],
  [
    'Soweto Derby Johannesburg Stadium Crowd',
    'SA',
    'sports',
    'VIRAL/SA_SPORTS_SOWETO_DERBY_JOHANNESBURG_001',
  ],
  ['petrol price hike', 'SA', undefined, 'VIRAL/SA_PETROL_HIKE_001'],
  ['PETROL PRICE HIKE', 'SA', undefined, 'VIRAL/SA_PETROL_HIKE_001'],
  ['Matric results released', 'SA', undefined, 'VIRAL/SA_MATRIC_001'],
  ['Supercalifragilisticexpialidocious Festival', 'SA', undefined, 'VIRAL/SA_SUPERCALIFRA_FESTIVAL_001'],
  ['The new iPhone launch', 'US', 'tech', 'VIRAL/US_TECH_IPHONE_001'],
  ['Unknown category is ignored', 'SA', 'gossip', 'VIRAL/SA_UNKNOWN_001'],
  // Unicode: accents folded, letters spelled out, emoji and other scripts separate words.
  ['Beyoncé surprise concert', 'SA', undefined, 'VIRAL/SA_BEYONCE_001'],
  ['Zoë Ndlovu wedding', 'SA', undefined, 'VIRAL/SA_ZOE_NDLOVU_001'],
  ['Straße Köln Karneval', 'DE', undefined, 'VIRAL/DE_STRASSE_KOLN_KARNEVAL_001'],
  ['Øresund Bridge closed', 'DK', undefined, 'VIRAL/DK_ORESUND_BRIDGE_001'],
  ['Łódź festival', 'PL', undefined, 'VIRAL/PL_LODZ_001'],
  ['🔥🔥 Amapiano 🔥🔥', 'SA', undefined, 'VIRAL/SA_MUSIC_AMAPIANO_001'],
  ['Ｂｉｔｃｏｉｎ fullwidth', 'JP', undefined, 'VIRAL/JP_CRYPTO_BTC_001'],
  ['比特币 Bitcoin 暴涨', 'CN', undefined, 'VIRAL/CN_CRYPTO_BTC_001'],
];

describe('the symbol normalizer (PROTOCOL v1.1, Trend markets)', () => {
  it(`maps a table of ${TABLE.length} topics as documented (the contract's three examples exactly)`, () => {
    expect(TABLE.length).toBeGreaterThanOrEqual(50);
    for (const [topic, region, category, symbol] of TABLE) {
      expect(new SymbolRegistry().assign(topic, region, category).symbol, topic).toBe(symbol);
    }
  });

  it('gives the same topic the same symbol, and a different topic with the same words the next number', () => {
    const registry = new SymbolRegistry();
    const take = (topic: string) => {
      const assigned = registry.assign(topic, 'SA');
      if (assigned.created) registry.add(assigned);
      return assigned.symbol;
    };
    expect(take('Bitcoin price spike')).toBe('VIRAL/SA_CRYPTO_BTC_001');
    expect(take('Bitcoin price spike')).toBe('VIRAL/SA_CRYPTO_BTC_001');
    expect(take('  bitcoin   PRICE spike ')).toBe('VIRAL/SA_CRYPTO_BTC_001');
    expect(take('Bitcoin crash')).toBe('VIRAL/SA_CRYPTO_BTC_002');
    expect(take('BTC ETF approved')).toBe('VIRAL/SA_CRYPTO_BTC_003');
    expect(take('Bitcoin crash')).toBe('VIRAL/SA_CRYPTO_BTC_002');
    expect(take('DJ Zinhle dance challenge')).toBe('VIRAL/SA_DJ_ZINHLE_001');
    expect(take('Springboks win')).toBe('VIRAL/SA_SPORTS_SPRINGBOKS_001');
    // Another region is another counter.
    expect(registry.assign('Bitcoin crash', 'NG').symbol).toBe('VIRAL/NG_CRYPTO_BTC_001');
    // A registry loaded from what was stored continues where it was.
    const reloaded = new SymbolRegistry([registry.bySymbol('VIRAL/SA_CRYPTO_BTC_003')!]);
    expect(reloaded.assign('Bitcoin halving', 'SA').symbol).toBe('VIRAL/SA_CRYPTO_BTC_004');
  });

  it('gives emoji-only and other-script topics a stable hashed stem, distinct per topic', () => {
    const a = new SymbolRegistry().assign('🚀🚀🚀', 'SA').symbol;
    const b = new SymbolRegistry().assign('🔥🔥', 'SA').symbol;
    const c = new SymbolRegistry().assign('ビットコイン急騰', 'JP').symbol;
    expect(a).toMatch(/^VIRAL\/SA_TOPIC_[0-9A-Z]{7}_001$/);
    expect(c).toMatch(/^VIRAL\/JP_TOPIC_[0-9A-Z]{7}_001$/);
    expect(a).not.toBe(b);
    expect(new SymbolRegistry().assign('🚀🚀🚀', 'SA').symbol).toBe(a);
  });

  it('never throws on any string, and always answers an ASCII upper-case symbol', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (topic) => {
        const symbol = new SymbolRegistry().assign(topic, 'SA').symbol;
        expect(symbol).toMatch(/^VIRAL\/SA_[A-Z0-9_]+_[0-9]{3,}$/);
        expect(new SymbolRegistry().assign(topic, 'SA').symbol).toBe(symbol);
      }),
    );
  });

  it('folds accents and spells out letters without a decomposition', () => {
    expect(foldWords("Beyoncé's Straße, Øresund & Łódź 🎉")).toEqual([
      'Beyonce',
      'Strasse',
      'Oresund',
      'Lodz',
    ]);
  });

  it('keeps the dictionary unambiguous (no alias names two entities)', () => {
    const aliases = ENTITIES.flatMap((e) => e.aliases);
    expect(new Set(aliases).size).toBe(aliases.length);
    expect(normalizeTopic('Zanzibar', 'SA').stem).toBe('ZANZIBAR');
    // Nothing but stopwords: the hashed stem.
    expect(normalizeTopic('the news today', 'SA').stem).toMatch(/^TOPIC_[0-9A-Z]{7}$/);
  });
});
