import qs from 'qs'
import { Kind, Type, TypeRegistry, type SchemaOptions, type StaticDecode, type TObject, type TSchema } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import type { ValueError } from '@sinclair/typebox/errors'
import { CredentialError } from '../credentials/errors.js'
import { legacyMessages } from './messages.js'

/** What a legacy request carries once its query and body are merged: PHP's `$_REQUEST`. */
export type LegacyParams = Record<string, unknown>

/** `parameters`: PHP's own default `max_input_vars`. */
export const FORM_LIMITS = { parameters: 1000, arrayItems: 50, depth: 3 } as const

/** A form with more parameters than PHP reads: refused, where PHP drops the rest with a warning nobody sees. */
export function tooManyParameters(): Error {
  return Object.assign(new Error(legacyMessages.tooManyParameters(FORM_LIMITS.parameters)), { statusCode: 400 })
}

/**
 * Parses a form (or query) string the way PHP fills `$_POST`: `a[]=1&a[]=2` and `a[0]=1` make
 * arrays, and so do repeated plain keys (Node's `querystring`, used by the `whmcs` npm client,
 * writes arrays that way). `__proto__` and friends are dropped, and sizes are bounded.
 */
export function parseForm(text: string): LegacyParams {
  // qs would drop what is past its limit without a word: an `action` sent last would be missing.
  if (text.split('&', FORM_LIMITS.parameters + 1).length > FORM_LIMITS.parameters) throw tooManyParameters()
  return qs.parse(text, {
    duplicates: 'combine',
    arrayLimit: FORM_LIMITS.arrayItems,
    parameterLimit: FORM_LIMITS.parameters,
    depth: FORM_LIMITS.depth,
    allowPrototypes: false,
    charset: 'utf-8',
  })
}

/*
 * Parameter schemas. Each one is what the OpenAPI document shows for a parameter and, compiled
 * (paramReader), what reads it: it admits the shapes legacy callers send and decodes them the
 * way PHP casts them. Values the credential service judges (grant type and scopes on a write,
 * name required, URIs, lengths) are left to it, so REST and api.php answer the same mistake
 * with the same message, in the same order. Lengths in particular: a schema's maxLength counts
 * UTF-16 units here, so it would refuse 255 emoji that the service (counting characters, as
 * the database and Ajv do) accepts. The document states them in words.
 */

/** What a parameter answers for a value its schema does not admit. */
interface Refusal {
  /** For a value of the wrong shape: a list or map where one value belongs, or the reverse. */
  wrongShape: (name: string) => string
  /** For one value outside the parameter's closed set, given as its text. */
  outsideSet?: (text: string, name: string) => string
}

// A symbol keeps the refusal out of the OpenAPI document, which shows the JSON schema only.
const REFUSAL = Symbol('legacy parameter refusal')

/** A parameter schema that knows how api.php refuses what it does not admit. */
export type LegacyParam = TSchema & { [REFUSAL]: Refusal }

function refusing<T extends TSchema>(schema: T, refusal: Refusal): T & { [REFUSAL]: Refusal } {
  return Object.assign(schema, { [REFUSAL]: refusal })
}

/** One value, as PHP reads it: text from a form, or from a JSON body a number, true/false or null. */
type PhpScalar = string | number | boolean | null

function isScalar(value: unknown): value is PhpScalar {
  return value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
}

function scalar(options: SchemaOptions) {
  return Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()], options)
}

/** A value as the original reads it as text: a number is its digits, JSON null is empty. */
function phpText(value: PhpScalar): string {
  return value === null ? '' : String(value)
}

/** What PHP counts as whitespace (isspace in the C locale): ASCII only. */
const PHP_SPACE = '[ \\t\\n\\r\\v\\f]'
const PHP_WHITESPACE = new RegExp(`${PHP_SPACE}+`)

/**
 * The leading numeric string PHP 8's `(int)` cast reads (Zend's `_zend_handle_numeric_str_ex`):
 * after PHP's whitespace, a sign, digits with an optional fraction (or a fraction alone), and
 * an exponent. Whatever follows is ignored; no digits at all read as 0. Hex, octal, binary,
 * `_` separators, `Infinity` and non-ASCII digits are not numbers to PHP.
 */
const PHP_LEADING_NUMBER = new RegExp(`^${PHP_SPACE}*([+-]?(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:[eE][+-]?\\d+)?)`)

/**
 * PHP 8's `(int)` cast (docs/legacy.md has the table): `"1e3"` is 1000, `" 12abc"` 12, `".5"`
 * 0. A fraction or exponent is read as a float and truncated; one too large to be finite is
 * 0, as in PHP. Past PHP's integer range PHP saturates and we keep the larger number: both are
 * past any id.
 */
function phpInt(value: PhpScalar): number {
  if (typeof value === 'number') return Number.isFinite(value) ? Math.trunc(value) : 0
  if (typeof value !== 'string') return value === true ? 1 : 0
  const number = PHP_LEADING_NUMBER.exec(value)?.[1]
  if (number === undefined) return 0
  const read = Number(number)
  return Number.isFinite(read) ? Math.trunc(read) : 0
}

/** A single-value parameter, read as text. */
export function text(options: SchemaOptions = {}) {
  const schema = Type.Transform(scalar(options)).Decode(phpText).Encode((text) => text)
  return refusing(schema, { wrongShape: legacyMessages.singleValue })
}

/** A single-value parameter read with PHP's `(int)` cast. */
export function phpInteger(options: SchemaOptions = {}) {
  const schema = Type.Transform(scalar(options)).Decode(phpInt).Encode((number) => number)
  return refusing(schema, { wrongShape: legacyMessages.singleValue })
}

// A value whose PHP `(int)` is at least 1: a kind of our own, as no JSON Schema pattern can
// say it (`".5e1"` is 5, `"0.5"` is 0).
const POSITIVE_KIND = 'LegacyPositiveInteger'
TypeRegistry.Set(POSITIVE_KIND, (_schema, value) => (typeof value === 'string' || typeof value === 'number') && phpInt(value) >= 1)

/** An id that must be a positive PHP integer. Anything else, of any shape, answers `refusal`. */
export function positiveInteger(refusal: string, options: SchemaOptions = {}) {
  const forms = Type.Unsafe<string | number>({ ...options, [Kind]: POSITIVE_KIND, type: ['string', 'number'] })
  return refusing(Type.Transform(forms).Decode(phpInt).Encode((id) => id), { wrongShape: () => refusal })
}

/**
 * A list parameter in any form legacy callers send: `x[]=a&x[]=b`, `x[0]=a`, repeated keys,
 * `x[key]=a`, a JSON array, or one string split on PHP's (ASCII) whitespace: a zero-width
 * no-break space or the like stays in its item, for the rules to judge. Empty items are dropped, so
 * `x[]=` clears the list.
 */
export function list(options: SchemaOptions = {}) {
  const forms = Type.Union([Type.String(), Type.Array(Type.String()), Type.Record(Type.String(), Type.String())], options)
  const items = (value: StaticDecode<typeof forms>) =>
    typeof value === 'string' ? value.split(PHP_WHITESPACE) : Array.isArray(value) ? value : Object.values(value)
  const schema = Type.Transform(forms)
    .Decode((value) => items(value).filter((item) => item !== ''))
    .Encode((items) => items)
  return refusing(schema, { wrongShape: legacyMessages.listOfStrings })
}

/** `param`, with its decoded value mapped once more (e.g. empty text to null). */
export function mapped<P extends LegacyParam, T>(
  param: P,
  decode: (value: StaticDecode<P>) => T,
  encode: (value: T) => StaticDecode<P>,
) {
  return refusing(Type.Transform(param).Decode(decode).Encode(encode), param[REFUSAL])
}

// Words of a closed set that callers may write in any case (and, for flags, with spaces
// around): a kind of our own, as JSON Schema's enum compares exactly. Its check reads the
// words from the schema, so what the document lists is what is enforced.
const WORD_KIND = 'LegacyWord'
const MATCHES = Symbol('legacy word match')
TypeRegistry.Set<TSchema & { [MATCHES]: (text: string) => boolean }>(
  WORD_KIND,
  (schema, value) => typeof value === 'string' && schema[MATCHES](value),
)

/** A closed set of words, each with its meaning, compared as `fold` writes them (e.g. in lower case). */
function words<T>(meanings: ReadonlyMap<string, T>, fold: (text: string) => string) {
  const folded = new Map([...meanings].map(([word, meaning]) => [fold(word), meaning]))
  const schema = Type.Unsafe<string>({
    [Kind]: WORD_KIND,
    [MATCHES]: (text: string) => folded.has(fold(text)),
    type: 'string',
    enum: [...meanings.keys()],
  })
  const meaning = (text: string) => folded.get(fold(text)) as T
  const word = (meaning: T) => [...meanings].find(([, means]) => means === meaning)?.[0] ?? ''
  return { schema, meaning, word }
}

/**
 * A single value from a closed set of words, each with its meaning; JSON null reads as the
 * empty word. A value outside the set answers `outsideSet`.
 */
export function oneOf<T>(
  meanings: ReadonlyMap<string, T>,
  { fold, outsideSet, ...options }: SchemaOptions & { fold: (text: string) => string; outsideSet: (text: string) => string },
) {
  const set = words(meanings, fold)
  const schema = Type.Transform(Type.Union([set.schema, Type.Null()], options))
    .Decode((value) => set.meaning(value ?? ''))
    .Encode(set.word)
  return refusing(schema, { wrongShape: legacyMessages.singleValue, outsideSet })
}

const FLAG_WORDS = new Map([
  ['1', true], ['true', true], ['on', true], ['yes', true],
  ['', false], ['0', false], ['false', false], ['off', false], ['no', false],
])

/**
 * `resetSecret` and other flags: a word of FLAG_WORDS in any case, spaces around, or from a
 * JSON body true/false, 1/0 or null (false). PHP would read the string "false" as true and
 * reset the secret; we read it as false (docs/legacy.md, compatibility), and refuse words we
 * do not know rather than guess about a secret.
 */
export function flag(options: SchemaOptions = {}) {
  const set = words(FLAG_WORDS, (text) => text.trim().toLowerCase())
  const forms = Type.Union([set.schema, Type.Boolean(), Type.Literal(1), Type.Literal(0), Type.Null()], options)
  const schema = Type.Transform(forms)
    .Decode((value) => (typeof value === 'string' ? set.meaning(value) : value === true || value === 1))
    .Encode((on) => on)
  return refusing(schema, {
    wrongShape: legacyMessages.singleValue,
    outsideSet: (text, name) => legacyMessages.flagInvalid(name, text),
  })
}

type LegacyProperties = Record<string, LegacyParam>

/** An action's parameters as its `run` receives them: checked and decoded. */
export type DecodedParams<P extends LegacyProperties> = StaticDecode<TObject<P>>

/**
 * Compiles an action's parameter schemas, once. The reader checks `$_REQUEST` against them and
 * decodes it, or throws the legacy message of the first problem. Parameters it does not know
 * are ignored, as PHP ignores them.
 */
export function paramReader<P extends LegacyProperties>(properties: P): (params: LegacyParams) => DecodedParams<P> {
  const check = TypeCompiler.Compile(Type.Object(properties, { additionalProperties: true }))
  return (params) => {
    if (!check.Check(params)) throw refusal(properties, check.Errors(params), params)
    return check.Decode(params)
  }
}

/**
 * The first problem: a parameter of the wrong shape before a value outside a closed set (as
 * api.php has always read every parameter before judging any), each in the order the action
 * lists its parameters.
 */
function refusal(properties: LegacyProperties, errors: Iterable<ValueError>, params: LegacyParams): CredentialError {
  let outsideSet: CredentialError | undefined
  for (const { path } of errors) {
    const name = path.slice(1)
    const { [REFUSAL]: refuse } = properties[name] as LegacyParam
    const value = params[name]
    if (!refuse.outsideSet || !isScalar(value)) return new CredentialError('invalid', refuse.wrongShape(name), name)
    outsideSet ??= new CredentialError('invalid', refuse.outsideSet(phpText(value), name), name)
  }
  return outsideSet as CredentialError
}
