" Vim syntax for .ivr phone call flows. grammar/ivr.pest is the real syntax; the categories
" are those of the VS Code grammar (editors/vscode/syntaxes/ivr.tmLanguage.json).
if exists('b:current_syntax')
  finish
endif

syn case match
syn iskeyword @,48-57,_
syn sync fromstart

" Reserved words by role. `on`, `redial` and `sms` are matched below instead: a keyword would
" win over the rules that colour the words after them.
syn keyword ivrDeclaration flow campaign test
syn keyword ivrInclude import
syn keyword ivrConditional if else
syn keyword ivrRepeat repeat times within
syn keyword ivrControl goto label break next
syn keyword ivrStatement answer say play record pause collect menu listen dial bridge transfer
syn keyword ivrStatement fetch let set report block hangup
syn keyword ivrTestStep expect press speak wait respond receive busy no_answer fail machine
syn keyword ivrOption prompt loop reprompt retries min_digits max_digits end_key timeout
syn keyword ivrOption digit_timeout where barge_in off detect_machine header max_length
syn keyword ivrSetting lang voice caller_id leads delimiter attempts retry_after lines rate
syn keyword ivrSetting window timezone normalize record_calls result_webhook
syn keyword ivrKeyword as to from by with for every max get post
syn keyword ivrOperatorWord and or not
syn keyword ivrOutcome ok retry
syn keyword ivrBoolean true false
syn keyword ivrNull null
syn keyword ivrBuiltin caller
syn match ivrStatement /\<sms\>\%(\s*\.\)\@!/
syn match ivrBuiltin /\<\%(called\|call\|sms\)\>\%(\s*\.\)\@=/
" A field after a dot is a plain name even when spelled like a reserved word: `crm.timeout`.
syn match ivrField /\.\h\w*/

" Names and bare values that follow a reserved word.
syn match ivrFlowName /\%(\<\%(flow\|for\)\s\+\)\@<=\h\w*/
syn match ivrCampaignName /\%(\<campaign\s\+\)\@<=\h\w*/
syn match ivrLabelName /\%(\<\%(goto\|label\)\s\+\)\@<=\h\w*/
syn match ivrLangTag /\%(\<lang\s\+\)\@<=\a\+\%(-\w\+\)*/
syn match ivrVoice /\%(\<voice\s\+\)\@<=\h\w*/
syn match ivrNormalize /\%(\<normalize\s\+\%(\w\+\s\+else\s\+\)\=\)\@<=\w\+/
syn match ivrOption /\%(\<record_calls\s\+\)\@<=trim\>/
syn match ivrConversion /\<\%(number\|text\|digits\|phone\|len\)\>\%(\s*(\)\@=/
syn match ivrType /\%(\<\%(let\|collect\)\s\+\h\w*\s*:\s*\)\@<=\h\w*/
syn region ivrParams matchgroup=ivrParen start=/\%(\<flow\s\+\h\w*\s*\)\@<=(/ end=/)/ contains=ivrType,ivrComment
syn match ivrType /\%(:\s*\)\@<=\h\w*/ contained

" Outcomes: the patterns of an arm or handler (`on busy | "1" ->`) and of `redial`.
syn region ivrArm matchgroup=ivrControl start=/\<on\>/ end=/\ze->/ end=/\ze[{};]/ end=/$/ oneline
      \ contains=ivrString,ivrArmOutcome,ivrHandler,ivrAlternation,ivrComment
syn keyword ivrArmOutcome contained ok timeout invalid nomatch answered busy no_answer failed machine error
syn keyword ivrHandler contained hangup sms
syn match ivrAlternation /|/ contained
syn match ivrRedial /\<redial\>\%(\s\+\h\w*\)\=/ contains=ivrRedialWord,ivrRedialOutcome
syn match ivrRedialWord /\<redial\>/ contained
syn keyword ivrRedialOutcome contained busy no_answer machine failed unproductive

" Literals; of two matches at one place the later wins, so longer forms come last.
syn match ivrOperator /->\|[=!<>]=\|[-+*/%<>=|]/
syn match ivrNumber /\<\d\+\%(\.\d\+\)\=\%([eE][+-]\=\d\+\)\=\>/
syn match ivrDuration /\<\d\+\%(ms\|s\|m\|h\)\>/
syn match ivrDuration /\/\@<=\%(ms\|s\|m\|h\)\>/
syn match ivrTime /\<\d\{1,2}:\d\d\>/
syn match ivrPhone /\%([[:alnum:]_)]\)\@<!+\d\+\>/
syn match ivrRecordId /\%(\<record\s\+\)\@<=\d\+\>/

" Comments and one-line strings with escapes and `{{placeholders}}`.
syn match ivrComment "//.*" contains=@Spell
syn region ivrString start=/"/ skip=/\\[\\"]/ end=/"/ end=/$/ oneline
      \ contains=ivrBadEscape,ivrEscape,ivrPlaceholder
syn match ivrBadEscape /\\./ contained
syn match ivrEscape /\\[\\"nt{}]/ contained
syn region ivrPlaceholder matchgroup=ivrPlaceholderBraces start=/{{/ end=/}}/ end=/\ze"/ contained oneline

" Blocks, for foldmethod=syntax.
syn region ivrBlock start=/{/ end=/}/ transparent fold

hi def link ivrDeclaration Structure
hi def link ivrInclude Include
hi def link ivrConditional Conditional
hi def link ivrRepeat Repeat
hi def link ivrControl Keyword
hi def link ivrStatement Statement
hi def link ivrTestStep Statement
hi def link ivrOption Keyword
hi def link ivrSetting PreProc
hi def link ivrRedialWord ivrSetting
hi def link ivrKeyword Keyword
hi def link ivrOperatorWord Operator
hi def link ivrOperator Operator
hi def link ivrAlternation Operator
hi def link ivrOutcome Constant
hi def link ivrArmOutcome Constant
hi def link ivrRedialOutcome Constant
hi def link ivrHandler Constant
hi def link ivrBoolean Boolean
hi def link ivrNull Constant
hi def link ivrNormalize Constant
hi def link ivrBuiltin Identifier
hi def link ivrFlowName Function
hi def link ivrCampaignName Function
hi def link ivrLabelName Label
hi def link ivrLangTag String
hi def link ivrVoice String
hi def link ivrConversion Function
hi def link ivrType Type
hi def link ivrNumber Number
hi def link ivrDuration Number
hi def link ivrTime Number
hi def link ivrPhone Number
hi def link ivrRecordId Number
hi def link ivrComment Comment
hi def link ivrString String
hi def link ivrEscape SpecialChar
hi def link ivrBadEscape Error
hi def link ivrPlaceholder Identifier
hi def link ivrPlaceholderBraces Special

let b:current_syntax = 'ivr'
