//! Syntax errors: pest's failures translated into our own coded diagnostics, plus the
//! errors found while building the AST (escapes, placeholders, literal ranges, nesting).
//!
//! Owns the exhaustive `Rule` → human name table, so a new grammar rule cannot ship
//! without a name users can read. It does not render anything; the binary does.

use super::grammar::Rule;
use miette::{Diagnostic, SourceSpan};
use thiserror::Error;

/// Something in the text that is not valid `.ivr` syntax.
#[derive(Debug, Clone, Error, Diagnostic, PartialEq, Eq)]
pub enum SyntaxError {
    /// The parser met a token it cannot accept here.
    #[error("unexpected {found}")]
    #[diagnostic(code(ivrc::syntax::unexpected_token), help("expected {expected}"))]
    UnexpectedToken {
        /// What was found, in words.
        found: String,
        /// What would have been accepted, in words.
        expected: String,
        /// Where.
        #[label("not expected here")]
        at: SourceSpan,
    },
    /// A string without its closing quote.
    #[error("unterminated string")]
    #[diagnostic(
        code(ivrc::syntax::unterminated_string),
        help("close the string with `\"` on the same line; strings cannot span lines")
    )]
    UnterminatedString {
        /// The open string.
        #[label("this string is never closed")]
        at: SourceSpan,
    },
    /// An escape sequence we do not know.
    #[error("unknown escape `{escape}`")]
    #[diagnostic(
        code(ivrc::syntax::bad_escape),
        help("the escapes are `\\\"`, `\\\\`, `\\n`, `\\t`, `\\{{` and `\\}}`")
    )]
    BadEscape {
        /// The escape as written.
        escape: String,
        /// Where.
        #[label("unknown escape")]
        at: SourceSpan,
    },
    /// `{{` without `}}`.
    #[error("unterminated placeholder")]
    #[diagnostic(
        code(ivrc::syntax::unterminated_placeholder),
        help("close the placeholder with `}}}}`, or write `\\{{` for a literal brace")
    )]
    UnterminatedPlaceholder {
        /// The open placeholder.
        #[label("this `{{{{` is never closed")]
        at: SourceSpan,
    },
    /// A placeholder that is not a plain dotted name.
    #[error("unsupported placeholder `{text}`")]
    #[diagnostic(
        code(ivrc::syntax::bad_placeholder),
        help("a tag names a variable or a field (`{{{{sum}}}}`, `{{{{crm.hint}}}}`) or opens an `{{{{#if name}}}}`/`{{{{#unless name}}}}` block; compute other values with `let` first")
    )]
    BadPlaceholder {
        /// The placeholder's content.
        text: String,
        /// Where.
        #[label("not a variable name")]
        at: SourceSpan,
    },
    /// Handlebars that does not parse (a block never closed, a stray `{{/if}}`, …).
    #[error("this template does not parse: {message}")]
    #[diagnostic(
        code(ivrc::syntax::bad_template),
        help("tags are `{{{{name}}}}`, `{{{{helper arg …}}}}` and `{{{{#if name}}}}…{{{{else}}}}…{{{{/if}}}}`; write `\\{{` for a literal brace")
    )]
    BadTemplate {
        /// What the Handlebars parser expected.
        message: String,
        /// Where it stopped.
        #[label("here")]
        at: SourceSpan,
    },
    /// A Unicode noncharacter that templates use internally.
    #[error("the character {code} cannot appear in a string")]
    #[diagnostic(
        code(ivrc::syntax::reserved_character),
        help("Unicode reserves U+FDD0–U+FDEF for programs' internal use; ivrc's templates use three of them, so remove it")
    )]
    ReservedCharacter {
        /// The character's code point.
        code: String,
        /// Where.
        #[label("reserved character")]
        at: SourceSpan,
    },
    /// A reserved word used as a name.
    #[error("`{word}` is a reserved word")]
    #[diagnostic(
        code(ivrc::syntax::reserved_word),
        help(
            "choose another name, e.g. `{word}_1`; reserved words are listed in docs/language.md"
        )
    )]
    ReservedWord {
        /// The word.
        word: String,
        /// Where.
        #[label("cannot be used as a name")]
        at: SourceSpan,
    },
    /// A placeholder where only fixed text is allowed.
    #[error("placeholders are not allowed in {what}")]
    #[diagnostic(
        code(ivrc::syntax::placeholder_not_allowed),
        help("{what} must be fixed text known when the flow is compiled")
    )]
    PlaceholderNotAllowed {
        /// The kind of text.
        what: String,
        /// The placeholder.
        #[label("not allowed here")]
        at: SourceSpan,
    },
    /// A number that does not fit in 64 bits.
    #[error("number too large")]
    #[diagnostic(
        code(ivrc::syntax::number_too_large),
        help("numbers are 64-bit: at most 9223372036854775807 (durations at most about 584 million years)")
    )]
    NumberTooLarge {
        /// Where.
        #[label("does not fit in 64 bits")]
        at: SourceSpan,
    },
    /// Blocks or parentheses nested deeper than we accept.
    #[error("nesting too deep")]
    #[diagnostic(
        code(ivrc::syntax::too_deep),
        help("at most {limit} levels of `{{`, `(` and `[` are accepted; move inner parts into `label`s or separate flows")
    )]
    TooDeep {
        /// The limit.
        limit: usize,
        /// The first bracket past the limit.
        #[label("this bracket is nested too deep")]
        at: SourceSpan,
    },
    /// An expression with more operators than we accept.
    #[error("expression too long")]
    #[diagnostic(
        code(ivrc::syntax::expression_too_long),
        help("an expression may hold at most {limit} operators and nest at most 32 deep; split it with `let`")
    )]
    ExpressionTooLong {
        /// The limit.
        limit: usize,
        /// The expression.
        #[label("too many operators")]
        at: SourceSpan,
    },
    /// A file larger than we accept.
    #[error("file too large ({size} bytes)")]
    #[diagnostic(
        code(ivrc::source::too_large),
        help("a flow file may be at most {limit} bytes; split it with `import`")
    )]
    TooLarge {
        /// The file's size.
        size: usize,
        /// The limit.
        limit: usize,
        /// The start of the file.
        #[label("this file")]
        at: SourceSpan,
    },
    /// Bytes that are not UTF-8.
    #[error("the file is not valid UTF-8")]
    #[diagnostic(code(ivrc::source::invalid_utf8), help("save the file as UTF-8"))]
    InvalidUtf8 {
        /// The first bad byte.
        #[label("invalid byte here")]
        at: SourceSpan,
    },
    /// A file with nothing to compile.
    #[error("the file has no flows, campaigns or tests")]
    #[diagnostic(
        code(ivrc::syntax::empty_file),
        help("start with `flow main {{ answer; say \"Hello\"; hangup }}`")
    )]
    EmptyFile {
        /// The start of the file.
        #[label("nothing to compile here")]
        at: SourceSpan,
    },
    /// An `import` whose file cannot be read.
    #[error("cannot read `{path}`: {reason}")]
    #[diagnostic(
        code(ivrc::source::import_not_found),
        help("import paths are relative to the importing file")
    )]
    ImportNotFound {
        /// The path as resolved.
        path: String,
        /// The operating system's reason.
        reason: String,
        /// The import.
        #[label("imported here")]
        at: SourceSpan,
    },
}

/// Every reserved word, sorted; the same words as the grammar's `keyword` rule (a test
/// keeps the two in step).
pub const RESERVED: [&str; 89] = [
    "and",
    "answer",
    "as",
    "attempts",
    "barge_in",
    "block",
    "break",
    "bridge",
    "busy",
    "by",
    "caller_id",
    "campaign",
    "collect",
    "delimiter",
    "detect_machine",
    "dial",
    "digit_timeout",
    "else",
    "end_key",
    "every",
    "expect",
    "fail",
    "false",
    "fetch",
    "flow",
    "for",
    "from",
    "get",
    "goto",
    "hangup",
    "header",
    "if",
    "import",
    "label",
    "lang",
    "leads",
    "let",
    "lines",
    "listen",
    "loop",
    "machine",
    "max",
    "max_digits",
    "max_length",
    "menu",
    "min_digits",
    "next",
    "no_answer",
    "normalize",
    "not",
    "off",
    "ok",
    "on",
    "or",
    "pause",
    "play",
    "post",
    "press",
    "prompt",
    "rate",
    "receive",
    "record",
    "record_calls",
    "redial",
    "repeat",
    "report",
    "reprompt",
    "respond",
    "result_webhook",
    "retries",
    "retry",
    "retry_after",
    "say",
    "set",
    "sms",
    "speak",
    "test",
    "timeout",
    "times",
    "timezone",
    "to",
    "transfer",
    "true",
    "voice",
    "wait",
    "where",
    "window",
    "with",
    "within",
];

/// Whether a rule is a keyword token, which carries no information beyond its position.
pub fn is_keyword(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::k_import
            | Rule::k_flow
            | Rule::k_campaign
            | Rule::k_test
            | Rule::k_for
            | Rule::k_on
            | Rule::k_else
            | Rule::k_lang
            | Rule::k_voice
            | Rule::k_caller_id
            | Rule::k_answer
            | Rule::k_say
            | Rule::k_play
            | Rule::k_record
            | Rule::k_pause
            | Rule::k_collect
            | Rule::k_menu
            | Rule::k_listen
            | Rule::k_within
            | Rule::k_dial
            | Rule::k_as
            | Rule::k_bridge
            | Rule::k_and
            | Rule::k_or
            | Rule::k_not
            | Rule::k_transfer
            | Rule::k_to
            | Rule::k_from
            | Rule::k_by
            | Rule::k_sms
            | Rule::k_fetch
            | Rule::k_get
            | Rule::k_post
            | Rule::k_with
            | Rule::k_let
            | Rule::k_set
            | Rule::k_if
            | Rule::k_goto
            | Rule::k_max
            | Rule::k_label
            | Rule::k_repeat
            | Rule::k_times
            | Rule::k_break
            | Rule::k_next
            | Rule::k_report
            | Rule::k_ok
            | Rule::k_retry
            | Rule::k_block
            | Rule::k_hangup
            | Rule::k_true
            | Rule::k_false
            | Rule::k_prompt
            | Rule::k_loop
            | Rule::k_reprompt
            | Rule::k_retries
            | Rule::k_min_digits
            | Rule::k_max_digits
            | Rule::k_end_key
            | Rule::k_timeout
            | Rule::k_digit_timeout
            | Rule::k_where
            | Rule::k_barge_in
            | Rule::k_off
            | Rule::k_detect_machine
            | Rule::k_header
            | Rule::k_max_length
            | Rule::k_leads
            | Rule::k_delimiter
            | Rule::k_attempts
            | Rule::k_retry_after
            | Rule::k_lines
            | Rule::k_rate
            | Rule::k_window
            | Rule::k_timezone
            | Rule::k_redial
            | Rule::k_every
            | Rule::k_normalize
            | Rule::k_record_calls
            | Rule::k_result_webhook
            | Rule::k_expect
            | Rule::k_press
            | Rule::k_speak
            | Rule::k_wait
            | Rule::k_respond
            | Rule::k_receive
            | Rule::k_busy
            | Rule::k_no_answer
            | Rule::k_fail
            | Rule::k_machine
    )
}

/// The name of a rule as users should read it in "expected …" messages.
pub fn rule_name(rule: Rule) -> &'static str {
    match rule {
        Rule::k_import => "`import`",
        Rule::k_flow => "`flow`",
        Rule::k_campaign => "`campaign`",
        Rule::k_test => "`test`",
        Rule::k_for => "`for`",
        Rule::k_on => "`on`",
        Rule::k_else => "`else`",
        Rule::k_lang => "`lang`",
        Rule::k_voice => "`voice`",
        Rule::k_caller_id => "`caller_id`",
        Rule::k_answer => "`answer`",
        Rule::k_say => "`say`",
        Rule::k_play => "`play`",
        Rule::k_record => "`record`",
        Rule::k_pause => "`pause`",
        Rule::k_collect => "`collect`",
        Rule::k_menu => "`menu`",
        Rule::k_listen => "`listen`",
        Rule::k_within => "`within`",
        Rule::k_dial => "`dial`",
        Rule::k_as => "`as`",
        Rule::k_bridge => "`bridge`",
        Rule::k_and => "`and`",
        Rule::k_or => "`or`",
        Rule::k_not => "`not`",
        Rule::k_transfer => "`transfer`",
        Rule::k_to => "`to`",
        Rule::k_from => "`from`",
        Rule::k_by => "`by`",
        Rule::k_sms => "`sms`",
        Rule::k_fetch => "`fetch`",
        Rule::k_get => "`get`",
        Rule::k_post => "`post`",
        Rule::k_with => "`with`",
        Rule::k_let => "`let`",
        Rule::k_set => "`set`",
        Rule::k_if => "`if`",
        Rule::k_goto => "`goto`",
        Rule::k_max => "`max`",
        Rule::k_label => "`label`",
        Rule::k_repeat => "`repeat`",
        Rule::k_times => "`times`",
        Rule::k_break => "`break`",
        Rule::k_next => "`next`",
        Rule::k_report => "`report`",
        Rule::k_ok => "`ok`",
        Rule::k_retry => "`retry`",
        Rule::k_block => "`block`",
        Rule::k_hangup => "`hangup`",
        Rule::k_true => "`true`",
        Rule::k_false => "`false`",
        Rule::k_prompt => "`prompt`",
        Rule::k_loop => "`loop`",
        Rule::k_reprompt => "`reprompt`",
        Rule::k_retries => "`retries`",
        Rule::k_min_digits => "`min_digits`",
        Rule::k_max_digits => "`max_digits`",
        Rule::k_end_key => "`end_key`",
        Rule::k_timeout => "`timeout`",
        Rule::k_digit_timeout => "`digit_timeout`",
        Rule::k_where => "`where`",
        Rule::k_barge_in => "`barge_in`",
        Rule::k_off => "`off`",
        Rule::k_detect_machine => "`detect_machine`",
        Rule::k_header => "`header`",
        Rule::k_max_length => "`max_length`",
        Rule::k_leads => "`leads`",
        Rule::k_delimiter => "`delimiter`",
        Rule::k_attempts => "`attempts`",
        Rule::k_retry_after => "`retry_after`",
        Rule::k_lines => "`lines`",
        Rule::k_rate => "`rate`",
        Rule::k_window => "`window`",
        Rule::k_timezone => "`timezone`",
        Rule::k_redial => "`redial`",
        Rule::k_every => "`every`",
        Rule::k_normalize => "`normalize`",
        Rule::k_record_calls => "`record_calls`",
        Rule::k_result_webhook => "`result_webhook`",
        Rule::k_expect => "`expect`",
        Rule::k_press => "`press`",
        Rule::k_speak => "`speak`",
        Rule::k_wait => "`wait`",
        Rule::k_respond => "`respond`",
        Rule::k_receive => "`receive`",
        Rule::k_busy => "`busy`",
        Rule::k_no_answer => "`no_answer`",
        Rule::k_fail => "`fail`",
        Rule::k_machine => "`machine`",
        Rule::EOI => "end of file",
        Rule::WHITESPACE => "a space",
        Rule::COMMENT => "a comment",
        Rule::ident_start | Rule::ident_char => "a letter",
        Rule::keyword => "a keyword",
        Rule::ident | Rule::leg_name => "a name",
        Rule::word => "a name",
        Rule::integer => "a whole number",
        Rule::duration => "a duration such as `10s`",
        Rule::phone => "a phone number such as `+74951234567`",
        Rule::time_of_day => "a time such as `09:00`",
        Rule::lang_tag => "a language such as `ru-RU`",
        Rule::string | Rule::unterminated_string | Rule::text => "a string",
        Rule::file | Rule::item => "`flow`, `campaign`, `test` or `import`",
        Rule::import => "`import`",
        Rule::flow => "`flow`",
        Rule::flow_item | Rule::statement => "a statement",
        Rule::params => "parameters",
        Rule::param => "a parameter",
        Rule::setting => "a setting",
        Rule::lang_setting => "`lang`",
        Rule::voice_setting => "`voice`",
        Rule::caller_id_setting => "`caller_id`",
        Rule::handler => "a handler (`on hangup -> …`)",
        Rule::block => "a block `{ … }`",
        Rule::action => "a statement or a block",
        Rule::to_leg => "`to LEG`",
        Rule::from_leg => "`from LEG`",
        Rule::answer => "`answer`",
        Rule::say => "`say`",
        Rule::play => "`play`",
        Rule::audio => "a file, a URL or `record ID`",
        Rule::record_id => "`record ID`",
        Rule::pause => "`pause`",
        Rule::collect => "`collect`",
        Rule::menu => "`menu`",
        Rule::listen => "`listen`",
        Rule::dial => "`dial`",
        Rule::bridge => "`bridge`",
        Rule::transfer => "`transfer`",
        Rule::transfer_leg => "`LEG to`",
        Rule::record => "`record`",
        Rule::sms => "`sms`",
        Rule::sms_to => "`to NUMBER`",
        Rule::fetch => "`fetch`",
        Rule::method => "`get` or `post`",
        Rule::let_stmt => "`let`",
        Rule::set_stmt => "`set`",
        Rule::if_stmt => "`if`",
        Rule::else_if => "`else if`",
        Rule::else_block => "`else`",
        Rule::goto => "`goto`",
        Rule::label => "`label`",
        Rule::repeat => "`repeat`",
        Rule::break_stmt => "`break`",
        Rule::next_stmt => "`next`",
        Rule::report => "`report`",
        Rule::report_ok => "`ok`",
        Rule::report_retry => "`retry`",
        Rule::block_stmt => "`block`",
        Rule::hangup => "`hangup`",
        Rule::body => "options and arms `{ … }`",
        Rule::arm => "an arm (`on OUTCOME -> …`)",
        Rule::pattern => "an outcome, a key or a phrase",
        Rule::else_pattern => "`else`",
        Rule::option => "an option",
        Rule::prompt_opt => "`prompt`",
        Rule::reprompt_opt => "`reprompt`",
        Rule::retries_opt => "`retries`",
        Rule::min_digits_opt => "`min_digits`",
        Rule::max_digits_opt => "`max_digits`",
        Rule::end_key_opt => "`end_key`",
        Rule::timeout_opt => "`timeout`",
        Rule::digit_timeout_opt => "`digit_timeout`",
        Rule::where_opt => "`where`",
        Rule::barge_in_opt => "`barge_in`",
        Rule::caller_id_opt => "`caller_id`",
        Rule::detect_machine_opt => "`detect_machine`",
        Rule::header_opt => "`header`",
        Rule::max_length_opt => "`max_length`",
        Rule::expr | Rule::primary | Rule::prefix => "an expression",
        Rule::infix | Rule::operator_start => "an operator",
        Rule::op_eq => "`==`",
        Rule::op_ne => "`!=`",
        Rule::op_le => "`<=`",
        Rule::op_ge => "`>=`",
        Rule::op_lt => "`<`",
        Rule::op_gt => "`>`",
        Rule::op_add => "`+`",
        Rule::op_sub | Rule::op_neg => "`-`",
        Rule::op_mul => "`*`",
        Rule::op_div => "`/`",
        Rule::op_rem => "`%`",
        Rule::boolean => "`true` or `false`",
        Rule::call => "a conversion such as `number(x)`",
        Rule::path => "a name",
        Rule::index => "an array position",
        Rule::paren => "`(`",
        Rule::map => "`{ name: value, … }`",
        Rule::map_entry => "`name: value`",
        Rule::campaign => "`campaign`",
        Rule::campaign_setting => "a campaign setting",
        Rule::leads_setting => "`leads`",
        Rule::delimiter_setting => "`delimiter`",
        Rule::dial_column => "`dial`",
        Rule::attempts_setting => "`attempts`",
        Rule::retry_after_setting => "`retry_after`",
        Rule::lines_setting => "`lines`",
        Rule::rate_setting => "`rate`",
        Rule::window_setting => "`window`",
        Rule::timezone_setting => "`timezone`",
        Rule::redial_setting => "`redial`",
        Rule::normalize_setting => "`normalize`",
        Rule::record_calls_setting => "`record_calls`",
        Rule::result_webhook_setting => "`result_webhook`",
        Rule::test => "`test`",
        Rule::test_step => "a test step",
        Rule::expect_step => "`expect`",
        Rule::expect_say => "`say`",
        Rule::expect_play => "`play`",
        Rule::expect_dial => "`dial`",
        Rule::expect_bridge => "`bridge`",
        Rule::expect_transfer => "`transfer`",
        Rule::expect_sms => "`sms`",
        Rule::expect_fetch => "`fetch`",
        Rule::expect_report => "`report`",
        Rule::expect_hangup => "`hangup`",
        Rule::expect_block => "`block`",
        Rule::press_step => "`press`",
        Rule::speak_step => "`speak`",
        Rule::by_leg => "`by LEG`",
        Rule::wait_step => "`wait`",
        Rule::respond_step => "`respond`",
        Rule::receive_step => "`receive`",
        Rule::party_step => "`answer`, `busy`, `no_answer`, `fail`, `machine` or `hangup`",
        Rule::json_value => "a JSON value",
        Rule::json_object => "a JSON object",
        Rule::json_pair => "`\"name\": value`",
        Rule::json_array => "a JSON array",
        Rule::json_number => "a number",
        Rule::json_null => "`null`",
    }
}
