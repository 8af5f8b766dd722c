// Checks that the grammar's keyword table (repository.keyword of syntaxes/ivr.tmLanguage.json)
// lists exactly the reserved words of grammar/ivr.pest, so a new keyword cannot stay uncoloured.
'use strict';
const fs = require('fs');
const path = require('path');

const pest = fs.readFileSync(path.join(__dirname, '../../../grammar/ivr.pest'), 'utf8');
// The `keyword` rule groups words by first letter: `"a" ~ ("ttempts" | "nswer" | …)`.
const rule = pest.match(/^keyword = @\{([\s\S]*?)^\}/m)[1];
const reserved = new Set();
for (const [, first, rest] of rule.matchAll(/"(\w+)" ~ \(([^)]*)\)/g)) {
  for (const [, tail] of rest.matchAll(/"(\w+)"/g)) reserved.add(first + tail);
}

const grammarFile = path.join(__dirname, '../syntaxes/ivr.tmLanguage.json');
const grammar = JSON.parse(fs.readFileSync(grammarFile, 'utf8'));
const coloured = new Set();
for (const { match } of grammar.repository.keyword.patterns) {
  for (const word of match.replace(/\\b|\(\?:|\)/g, '').split('|')) coloured.add(word);
}

const missing = [...reserved].filter((w) => !coloured.has(w));
const extra = [...coloured].filter((w) => !reserved.has(w));
if (missing.length > 0 || extra.length > 0) {
  console.error(`keyword table of ${grammarFile} differs from grammar/ivr.pest:`);
  if (missing.length > 0) console.error(`  not coloured: ${missing.join(' ')}`);
  if (extra.length > 0) console.error(`  not reserved: ${extra.join(' ')}`);
  process.exit(1);
}
console.log(`✓ all ${reserved.size} reserved words of grammar/ivr.pest are coloured`);
