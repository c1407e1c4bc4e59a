/** The documented fields of `patchface compare --json` (and of the app's JSON export), sorted. */
export const COMPARE_JSON_KEYS = [
  'cells',
  'constantPart',
  'faces',
  'fullScore',
  'hide',
  'kept',
  'model',
  'patches',
  'same',
  'score',
  'threshold',
];
