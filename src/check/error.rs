//! Every problem the checker reports: one variant per code, with its wording.
//!
//! Title: a noun phrase without final period. Primary label: what is wrong at that span.
//! Help: what to do. Names in backticks. Each code has a failing fixture in
//! `tests/fixtures/err/` named after the code's last segment.

use miette::{Diagnostic, SourceSpan};
use thiserror::Error;

/// A problem found by the checker.
#[derive(Debug, Clone, Error, Diagnostic, PartialEq, Eq)]
pub enum CheckError {
    /// A name that is not a variable, parameter or leg in scope.
    #[error("unknown variable `{name}`")]
    #[diagnostic(code(ivrc::check::unknown_variable), help("{help}"))]
    UnknownVariable {
        /// The name.
        name: String,
        /// A suggestion.
        help: String,
        /// Where.
        #[label("not defined here")]
        at: SourceSpan,
    },
    /// A variable defined twice in the same scope.
    #[error("`{name}` is already defined")]
    #[diagnostic(
        code(ivrc::check::duplicate_variable),
        help("choose another name, or use `set {name} = …` to change the value")
    )]
    DuplicateVariable {
        /// The name.
        name: String,
        /// The second definition.
        #[label("defined again here")]
        at: SourceSpan,
        /// The first definition.
        #[label("first defined here")]
        first: Option<SourceSpan>,
    },
    /// A leg that is not dialled (or not in scope) here.
    #[error("unknown leg `{name}`")]
    #[diagnostic(code(ivrc::check::unknown_leg), help("{help}"))]
    UnknownLeg {
        /// The name.
        name: String,
        /// A suggestion.
        help: String,
        /// Where.
        #[label("no leg of this name here")]
        at: SourceSpan,
    },
    /// `dial … as NAME` where NAME is taken.
    #[error("leg `{name}` clashes with an existing name")]
    #[diagnostic(
        code(ivrc::check::duplicate_leg),
        help("name the leg differently, for example `{name}2`")
    )]
    DuplicateLeg {
        /// The name.
        name: String,
        /// Where.
        #[label("already in use")]
        at: SourceSpan,
        /// The existing definition.
        #[label("defined here")]
        first: Option<SourceSpan>,
    },
    /// A leg used where a value is needed, or a value where a leg is needed.
    #[error("`{name}` is a {is}, not a {wanted}")]
    #[diagnostic(code(ivrc::check::wrong_kind_of_name), help("{help}"))]
    WrongKindOfName {
        /// The name.
        name: String,
        /// What it is.
        is: String,
        /// What is needed here.
        wanted: String,
        /// A suggestion.
        help: String,
        /// Where.
        #[label("used as a {wanted} here")]
        at: SourceSpan,
    },
    /// `goto` to a label that does not exist.
    #[error("unknown label `{name}`")]
    #[diagnostic(code(ivrc::check::unknown_label), help("{help}"))]
    UnknownLabel {
        /// The name.
        name: String,
        /// A suggestion.
        help: String,
        /// Where.
        #[label("no such label")]
        at: SourceSpan,
    },
    /// Two labels with the same name in a flow.
    #[error("label `{name}` is defined twice")]
    #[diagnostic(
        code(ivrc::check::duplicate_label),
        help("label names are unique within a flow")
    )]
    DuplicateLabel {
        /// The name.
        name: String,
        /// The second label.
        #[label("defined again here")]
        at: SourceSpan,
        /// The first label.
        #[label("first defined here")]
        first: Option<SourceSpan>,
    },
    /// `goto` into a block it is not inside.
    #[error("label `{name}` cannot be reached from here")]
    #[diagnostic(
        code(ivrc::check::label_not_visible),
        help("a `goto` can only jump to a label in its own block or in a block around it")
    )]
    LabelNotVisible {
        /// The name.
        name: String,
        /// The goto.
        #[label("jumps into another block")]
        at: SourceSpan,
        /// The label.
        #[label("the label is here")]
        label: Option<SourceSpan>,
    },
    /// A forward `goto` that skips the definition of a variable used after the label.
    #[error("`goto {label}` skips the definition of `{name}`")]
    #[diagnostic(
        code(ivrc::check::goto_skips_definition),
        help(
            "move the definition of `{name}` before the `goto`, or the label before the definition"
        )
    )]
    GotoSkipsDefinition {
        /// The label.
        label: String,
        /// The variable.
        name: String,
        /// The goto.
        #[label("jumps over the definition")]
        at: SourceSpan,
        /// The definition.
        #[label("`{name}` is defined here")]
        definition: Option<SourceSpan>,
    },
    /// A flow name that is not defined.
    #[error("unknown flow `{name}`")]
    #[diagnostic(code(ivrc::check::unknown_flow), help("{help}"))]
    UnknownFlow {
        /// The name.
        name: String,
        /// A suggestion.
        help: String,
        /// Where.
        #[label("no flow of this name")]
        at: SourceSpan,
    },
    /// Two flows with one name.
    #[error("flow `{name}` is defined twice")]
    #[diagnostic(
        code(ivrc::check::duplicate_flow),
        help("flow names are unique across a file and its imports")
    )]
    DuplicateFlow {
        /// The name.
        name: String,
        /// The second flow.
        #[label("defined again here")]
        at: SourceSpan,
        /// The first flow (when in the same file).
        #[label("first defined here")]
        first: Option<SourceSpan>,
    },
    /// Two campaigns with one name.
    #[error("campaign `{name}` is defined twice")]
    #[diagnostic(
        code(ivrc::check::duplicate_campaign),
        help("campaign names are unique")
    )]
    DuplicateCampaign {
        /// The name.
        name: String,
        /// The second campaign.
        #[label("defined again here")]
        at: SourceSpan,
        /// The first campaign.
        #[label("first defined here")]
        first: Option<SourceSpan>,
    },
    /// Two tests with one name.
    #[error("test `{name}` is defined twice")]
    #[diagnostic(
        code(ivrc::check::duplicate_test),
        help("give each test its own name so failures can be told apart")
    )]
    DuplicateTest {
        /// The name.
        name: String,
        /// The second test.
        #[label("defined again here")]
        at: SourceSpan,
        /// The first test.
        #[label("first defined here")]
        first: Option<SourceSpan>,
    },
    /// Two parameters with one name.
    #[error("parameter `{name}` is declared twice")]
    #[diagnostic(code(ivrc::check::duplicate_parameter), help("remove one of them"))]
    DuplicateParameter {
        /// The name.
        name: String,
        /// The second parameter.
        #[label("declared again here")]
        at: SourceSpan,
        /// The first parameter.
        #[label("first declared here")]
        first: Option<SourceSpan>,
    },
    /// A type name we do not know.
    #[error("unknown type `{name}`")]
    #[diagnostic(code(ivrc::check::unknown_type), help("{help}"))]
    UnknownType {
        /// The name.
        name: String,
        /// A suggestion.
        help: String,
        /// Where.
        #[label("not a type")]
        at: SourceSpan,
    },
    /// A value of the wrong type.
    #[error("expected {expected}, found {found}")]
    #[diagnostic(code(ivrc::check::type_mismatch), help("{help}"))]
    TypeMismatch {
        /// The type needed.
        expected: String,
        /// The type found.
        found: String,
        /// A suggestion.
        help: String,
        /// Where.
        #[label("this is {found}")]
        at: SourceSpan,
    },
    /// A conversion we do not have.
    #[error("unknown function `{name}`")]
    #[diagnostic(code(ivrc::check::unknown_function), help("{help}"))]
    UnknownFunction {
        /// The name.
        name: String,
        /// A suggestion.
        help: String,
        /// Where.
        #[label("not a function")]
        at: SourceSpan,
    },
    /// A conversion called with the wrong number of arguments.
    #[error("`{name}` takes {expected} argument, found {found}")]
    #[diagnostic(code(ivrc::check::wrong_arity), help("write `{name}(value)`"))]
    WrongArity {
        /// The function.
        name: String,
        /// Arguments wanted.
        expected: usize,
        /// Arguments given.
        found: usize,
        /// Where.
        #[label("wrong number of arguments")]
        at: SourceSpan,
    },
    /// A field read from a value that has no fields.
    #[error("`{name}` has no field `{field}`")]
    #[diagnostic(code(ivrc::check::no_such_field), help("{help}"))]
    NoSuchField {
        /// The value's name.
        name: String,
        /// The field.
        field: String,
        /// A suggestion.
        help: String,
        /// Where.
        #[label("no such field")]
        at: SourceSpan,
    },
    /// A variable used where it may have no value.
    #[error("`{name}` may have no value here")]
    #[diagnostic(
        code(ivrc::check::maybe_unset),
        help("end the `{outcome}` arm with `hangup`, `report`, `transfer` or `goto`, so that the flow only goes on with a value")
    )]
    MaybeUnset {
        /// The name.
        name: String,
        /// The outcome arm that goes on without a value.
        outcome: String,
        /// The use.
        #[label("used here")]
        at: SourceSpan,
        /// The arm.
        #[label("this arm goes on without a value")]
        arm: Option<SourceSpan>,
    },
    /// A loop with no bound.
    #[error("loop without a bound")]
    #[diagnostic(code(ivrc::check::unbounded_loop), help("{help}"))]
    UnboundedLoop {
        /// What to add.
        help: String,
        /// The loop.
        #[label("this can repeat forever")]
        at: SourceSpan,
    },
    /// Statements that can never run.
    #[error("unreachable statement")]
    #[diagnostic(
        code(ivrc::check::unreachable),
        severity(Warning),
        help("remove it, or move it before the statement that ends this path")
    )]
    Unreachable {
        /// The first unreachable statement.
        #[label("never runs")]
        at: SourceSpan,
        /// What ends the path.
        #[label("the path ends here")]
        ended_by: Option<SourceSpan>,
    },
    /// `break` outside `repeat`.
    #[error("`break` outside a loop")]
    #[diagnostic(
        code(ivrc::check::break_outside_loop),
        help("`break` leaves a `repeat`; to end the call use `hangup`")
    )]
    BreakOutsideLoop {
        /// Where.
        #[label("not inside `repeat`")]
        at: SourceSpan,
    },
    /// `next` outside an outcome arm.
    #[error("`next` outside an outcome arm")]
    #[diagnostic(code(ivrc::check::next_outside_arm), help("`next` means \"go on after this statement\" inside `on … -> next`; here it does nothing, remove it"))]
    NextOutsideArm {
        /// Where.
        #[label("not inside an arm")]
        at: SourceSpan,
    },
    /// A dial outcome that nothing handles.
    #[error("`dial` does not handle {outcomes}")]
    #[diagnostic(
        code(ivrc::check::unhandled_dial_outcome),
        severity(Warning),
        help(
            "add `on {first} -> …` or a flow-wide `on error -> …`; otherwise the call ends there"
        )
    )]
    UnhandledDialOutcome {
        /// The outcomes, listed.
        outcomes: String,
        /// The first one.
        first: String,
        /// The dial.
        #[label("these outcomes end the call")]
        at: SourceSpan,
    },
    /// A `fetch` whose result is used, with nothing to handle a failed request.
    #[error("`fetch {name}` does not handle `error`")]
    #[diagnostic(
        code(ivrc::check::unhandled_fetch_error),
        severity(Warning),
        help("add `on error -> …` to the `fetch` (e.g. transfer to an operator) or a flow-wide `on error -> …`; otherwise every call ends here when the request fails or times out")
    )]
    UnhandledFetchError {
        /// The variable.
        name: String,
        /// The variable of the fetch.
        #[label("a failed request ends the call")]
        at: SourceSpan,
        /// The first use of the result.
        #[label("the result is used here")]
        used: Option<SourceSpan>,
    },
    /// A campaign flow that can end without reporting.
    #[error("flow `{flow}` can end without `report`")]
    #[diagnostic(
        code(ivrc::check::missing_report),
        severity(Warning),
        help("end every path with `report ok` or `report retry`; an unreported attempt is retried and logged as a flow defect")
    )]
    MissingReport {
        /// The flow.
        flow: String,
        /// Where the attempt ends.
        #[label("the attempt can end here without a report")]
        at: SourceSpan,
        /// The campaign.
        #[label("run by this campaign")]
        campaign: Option<SourceSpan>,
    },
    /// An outcome name a statement does not have.
    #[error("`{statement}` has no outcome `{name}`")]
    #[diagnostic(code(ivrc::check::unknown_outcome), help("{help}"))]
    UnknownOutcome {
        /// The statement.
        statement: String,
        /// The outcome as written.
        name: String,
        /// The valid outcomes.
        help: String,
        /// Where.
        #[label("not an outcome of `{statement}`")]
        at: SourceSpan,
    },
    /// One outcome handled by two arms.
    #[error("outcome `{name}` is handled twice")]
    #[diagnostic(
        code(ivrc::check::duplicate_outcome),
        help("only the first arm would ever run; merge them")
    )]
    DuplicateOutcome {
        /// The outcome.
        name: String,
        /// The second arm.
        #[label("handled again here")]
        at: SourceSpan,
        /// The first arm.
        #[label("first handled here")]
        first: Option<SourceSpan>,
    },
    /// A key used twice in a menu.
    #[error("key `{key}` is used twice")]
    #[diagnostic(code(ivrc::check::duplicate_key), help("each key chooses one branch"))]
    DuplicateKey {
        /// The key.
        key: String,
        /// The second use.
        #[label("used again here")]
        at: SourceSpan,
        /// The first use.
        #[label("first used here")]
        first: Option<SourceSpan>,
    },
    /// Something that is not a phone key.
    #[error("`{key}` is not a phone key")]
    #[diagnostic(
        code(ivrc::check::invalid_key),
        help("keys are one of `0`–`9`, `*` and `#`")
    )]
    InvalidKey {
        /// The text.
        key: String,
        /// Where.
        #[label("not a key")]
        at: SourceSpan,
    },
    /// A phrase listed twice.
    #[error("phrase «{phrase}» is listed twice")]
    #[diagnostic(
        code(ivrc::check::duplicate_phrase),
        help("phrases are compared ignoring case, punctuation and ё/е; keep one")
    )]
    DuplicatePhrase {
        /// The phrase, normalized.
        phrase: String,
        /// The second phrase.
        #[label("listed again here")]
        at: SourceSpan,
        /// The first phrase.
        #[label("first listed here")]
        first: Option<SourceSpan>,
    },
    /// A phrase contained in another arm's phrase.
    #[error("phrase «{inner}» is part of «{outer}»")]
    #[diagnostic(
        code(ivrc::check::overlapping_phrases),
        severity(Warning),
        help("an utterance containing «{outer}» also contains «{inner}»; the first arm in order wins, so put the longer phrase first or reword")
    )]
    OverlappingPhrases {
        /// The shorter phrase.
        inner: String,
        /// The longer phrase.
        outer: String,
        /// The longer phrase.
        #[label("contains the other phrase")]
        at: SourceSpan,
        /// The shorter phrase.
        #[label("this phrase")]
        other: Option<SourceSpan>,
    },
    /// A phrase with no words.
    #[error("empty phrase")]
    #[diagnostic(
        code(ivrc::check::empty_phrase),
        help("a phrase needs at least one word; punctuation is ignored")
    )]
    EmptyPhrase {
        /// Where.
        #[label("no words here")]
        at: SourceSpan,
    },
    /// A template block tests a value that has no presence to test.
    #[error("`{{{{#{block}}}}}` cannot test a {ty}")]
    #[diagnostic(
        code(ivrc::check::template_condition),
        help("a block tests a bool, a text or digits (said when not empty) or a json value (said when it is there and not false, 0, \"\" or []); {help}")
    )]
    TemplateCondition {
        /// `if` or `unless`.
        block: String,
        /// The value's type.
        ty: String,
        /// What to write instead.
        help: String,
        /// The value.
        #[label("a {ty}")]
        at: SourceSpan,
    },
    /// A helper no template knows.
    #[error("unknown helper `{name}`")]
    #[diagnostic(code(ivrc::check::unknown_helper), help("{help}"))]
    UnknownHelper {
        /// The name as written.
        name: String,
        /// The helpers there are.
        help: String,
        /// The name.
        #[label("no such helper")]
        at: SourceSpan,
    },
    /// A speech helper called with arguments or options it does not take.
    #[error("{problem}")]
    #[diagnostic(code(ivrc::check::bad_helper_call), help("{help}"))]
    BadHelperCall {
        /// What is wrong.
        problem: String,
        /// How the helper is called.
        help: String,
        /// The tag.
        #[label("in this helper call")]
        at: SourceSpan,
    },
    /// A `say`, prompt or `sms` whose text is empty or only spaces.
    #[error("empty text in `{what}`")]
    #[diagnostic(code(ivrc::check::empty_text), help("{help}"))]
    EmptyText {
        /// The statement or option.
        what: String,
        /// What to write instead.
        help: String,
        /// The text literal.
        #[label("nothing to say")]
        at: SourceSpan,
    },
    /// A `listen` or `menu` without any phrase or key arms.
    #[error("`{statement}` has no {what} to wait for")]
    #[diagnostic(
        code(ivrc::check::nothing_to_wait_for),
        help("add arms such as `on {example} -> …`")
    )]
    NothingToWaitFor {
        /// The statement.
        statement: String,
        /// Phrases or keys.
        what: String,
        /// An example pattern.
        example: String,
        /// Where.
        #[label("waits for nothing")]
        at: SourceSpan,
    },
    /// A phone literal that is not valid E.164.
    #[error("invalid phone number `{text}`")]
    #[diagnostic(
        code(ivrc::check::invalid_phone),
        help("{reason}; write numbers as `+` then country code and number, e.g. `+74951234567`")
    )]
    InvalidPhone {
        /// The literal.
        text: String,
        /// Why.
        reason: String,
        /// Where.
        #[label("not a valid number")]
        at: SourceSpan,
    },
    /// A duration outside its allowed range.
    #[error("`{what}` of {value} is out of range")]
    #[diagnostic(
        code(ivrc::check::duration_out_of_range),
        help("use a value from {min} to {max}")
    )]
    DurationOutOfRange {
        /// The option.
        what: String,
        /// The value as written.
        value: String,
        /// The lower bound.
        min: String,
        /// The upper bound.
        max: String,
        /// Where.
        #[label("out of range")]
        at: SourceSpan,
    },
    /// A count outside its allowed range.
    #[error("`{what}` of {value} is out of range")]
    #[diagnostic(code(ivrc::check::count_out_of_range), help("{help}"))]
    CountOutOfRange {
        /// The option.
        what: String,
        /// The value.
        value: i64,
        /// The allowed range.
        help: String,
        /// Where.
        #[label("out of range")]
        at: SourceSpan,
    },
    /// An option a statement does not take.
    #[error("`{option}` is not an option of `{statement}`")]
    #[diagnostic(code(ivrc::check::option_not_allowed), help("{help}"))]
    OptionNotAllowed {
        /// The option.
        option: String,
        /// The statement.
        statement: String,
        /// The options it does take.
        help: String,
        /// Where.
        #[label("not allowed here")]
        at: SourceSpan,
    },
    /// An option or setting given twice.
    #[error("`{name}` is set twice")]
    #[diagnostic(code(ivrc::check::duplicate_setting), help("keep one"))]
    DuplicateSetting {
        /// The option.
        name: String,
        /// The second one.
        #[label("set again here")]
        at: SourceSpan,
        /// The first one.
        #[label("first set here")]
        first: Option<SourceSpan>,
    },
    /// A setting value that is not one of the choices.
    #[error("`{value}` is not a valid `{setting}`")]
    #[diagnostic(code(ivrc::check::invalid_setting), help("{help}"))]
    InvalidSetting {
        /// The setting.
        setting: String,
        /// The value.
        value: String,
        /// The choices.
        help: String,
        /// Where.
        #[label("not valid here")]
        at: SourceSpan,
    },
    /// A `lang` no target speaks.
    #[error("no target speaks `lang {tag}`")]
    #[diagnostic(code(ivrc::check::unknown_lang), severity(Warning), help("{help}"))]
    UnknownLang {
        /// The tag as written.
        tag: String,
        /// The nearest known tags.
        help: String,
        /// The tag.
        #[label("not a language of any target")]
        at: SourceSpan,
    },
    /// `on machine` without `detect_machine`.
    #[error("`on machine` without `detect_machine`")]
    #[diagnostic(
        code(ivrc::check::machine_without_detection),
        help("add `detect_machine` to the dial's options, or remove the arm")
    )]
    MachineWithoutDetection {
        /// The arm.
        #[label("never happens without detection")]
        at: SourceSpan,
    },
    /// A handler for an event that does not exist.
    #[error("unknown handler `on {name}`")]
    #[diagnostic(code(ivrc::check::unknown_handler), help("{help}"))]
    UnknownHandler {
        /// The event.
        name: String,
        /// A suggestion.
        help: String,
        /// Where.
        #[label("not a flow event")]
        at: SourceSpan,
    },
    /// A flow-wide handler given twice.
    #[error("handler `on {name}` is defined twice")]
    #[diagnostic(code(ivrc::check::duplicate_handler), help("merge the two handlers"))]
    DuplicateHandler {
        /// The event.
        name: String,
        /// The second handler.
        #[label("defined again here")]
        at: SourceSpan,
        /// The first handler.
        #[label("first defined here")]
        first: Option<SourceSpan>,
    },
    /// A URL that is not http(s).
    #[error("`{url}` is not an http or https URL")]
    #[diagnostic(
        code(ivrc::check::invalid_url),
        help("write the full address, e.g. `https://crm.example/ivr`")
    )]
    InvalidUrl {
        /// The URL.
        url: String,
        /// Where.
        #[label("not a URL")]
        at: SourceSpan,
    },
    /// A statement on the implicit caller leg in a flow that has none.
    #[error("flow `{flow}` has no caller leg in campaign `{campaign}`")]
    #[diagnostic(
        code(ivrc::check::no_caller_leg),
        help("name a dialled leg (`say to op …`, `listen to op …`), or add `dial COLUMN` to the campaign so the dialer calls the lead")
    )]
    NoCallerLeg {
        /// The flow.
        flow: String,
        /// The campaign.
        campaign: String,
        /// The statement.
        #[label("acts on the caller")]
        at: SourceSpan,
        /// The campaign.
        #[label("the campaign places no call for the flow")]
        campaign_at: Option<SourceSpan>,
    },
    /// A campaign value outside what dialers accept.
    #[error("invalid calling window")]
    #[diagnostic(code(ivrc::check::invalid_window), help("{help}"))]
    InvalidWindow {
        /// What is wrong.
        help: String,
        /// Where.
        #[label("not a valid window")]
        at: SourceSpan,
    },
    /// A campaign without a leads file.
    #[error("campaign `{name}` has no leads")]
    #[diagnostic(
        code(ivrc::check::missing_leads),
        help("add `leads \"leads.csv\"` with a header naming the flow's parameters")
    )]
    MissingLeads {
        /// The campaign.
        name: String,
        /// Where.
        #[label("no `leads` setting")]
        at: SourceSpan,
    },
    /// A flow parameter without a value (tests) or column (leads).
    #[error("no value for parameter `{name}`")]
    #[diagnostic(code(ivrc::check::missing_parameter), help("{help}"))]
    MissingParameter {
        /// The parameter.
        name: String,
        /// A suggestion.
        help: String,
        /// Where.
        #[label("`{name}` is not given")]
        at: SourceSpan,
    },
    /// The leads file does not exist (so its header cannot be checked).
    #[error("leads file `{path}` not found")]
    #[diagnostic(code(ivrc::check::leads_not_found), severity(Warning), help("the header and rows are checked when the file exists; paths are relative to the flow file"))]
    LeadsNotFound {
        /// The path.
        path: String,
        /// Where.
        #[label("not found")]
        at: SourceSpan,
    },
    /// The leads file cannot be used as a whole.
    #[error("leads file `{path}`: {problem}")]
    #[diagnostic(code(ivrc::check::leads_unusable), help("{help}"))]
    LeadsUnusable {
        /// The path.
        path: String,
        /// What is wrong.
        problem: String,
        /// What to do.
        help: String,
        /// The `leads` setting.
        #[label("in this file")]
        at: SourceSpan,
    },
    /// The leads file has a BOM.
    #[error("leads file `{path}` starts with a byte order mark")]
    #[diagnostic(
        code(ivrc::check::leads_bom),
        help("save it as UTF-8 without BOM; call lists (Voximplant) reject a BOM")
    )]
    LeadsBom {
        /// The path.
        path: String,
        /// The `leads` setting.
        #[label("this file")]
        at: SourceSpan,
    },
    /// The leads file uses another delimiter.
    #[error("leads file `{path}` is delimited by `{found}`, not `{expected}`")]
    #[diagnostic(
        code(ivrc::check::leads_delimiter),
        help("separate columns with `{expected}`, or say `delimiter \"{found}\"` in the campaign")
    )]
    LeadsDelimiter {
        /// The path.
        path: String,
        /// The delimiter expected.
        expected: String,
        /// The delimiter found.
        found: String,
        /// The `leads` setting.
        #[label("this file")]
        at: SourceSpan,
    },
    /// A flow parameter missing from the leads header.
    #[error("leads file `{path}` has no column `{column}`")]
    #[diagnostic(
        code(ivrc::check::leads_missing_column),
        help("the header is `{header}`; add `{column}`, which the flow's parameters need")
    )]
    LeadsMissingColumn {
        /// The path.
        path: String,
        /// The column.
        column: String,
        /// The header as read.
        header: String,
        /// The `leads` setting.
        #[label("this file")]
        at: SourceSpan,
    },
    /// A row set aside as the campaign's `normalize … else skip|flag` asks.
    #[error("leads file `{path}` line {line}: {problem}")]
    #[diagnostic(
        code(ivrc::check::leads_row_skipped),
        severity(Warning),
        help("the row is set aside as `normalize … else` asks; fix the number to have it called")
    )]
    LeadsRowSkipped {
        /// The path.
        path: String,
        /// The 1-based line.
        line: usize,
        /// What is wrong.
        problem: String,
        /// The `leads` setting.
        #[label("in this file")]
        at: SourceSpan,
    },
    /// A row whose number normalizes to the number of an earlier row.
    #[error("leads file `{path}` line {line}: `{column}` `{number}` is also on line {first_line}")]
    #[diagnostic(
        code(ivrc::check::leads_duplicate_number),
        severity(Warning),
        help("each row is an attempt on the number; the runtime dialer never calls it twice at once (the later row waits), but a Voximplant call list with `lines` above 1 may; remove one row unless two calls are wanted")
    )]
    LeadsDuplicateNumber {
        /// The path.
        path: String,
        /// The later row's line.
        line: usize,
        /// The earlier row's line.
        first_line: usize,
        /// The column.
        column: String,
        /// The number, normalized.
        number: String,
        /// The `leads` setting.
        #[label("in this file")]
        at: SourceSpan,
    },
    /// A row of the leads file that cannot be called.
    #[error("leads file `{path}` line {line}: {problem}")]
    #[diagnostic(
        code(ivrc::check::leads_bad_row),
        help(
            "fix or remove the row, or say `normalize … else skip` to have bad numbers set aside"
        )
    )]
    LeadsBadRow {
        /// The path.
        path: String,
        /// The 1-based line.
        line: usize,
        /// What is wrong.
        problem: String,
        /// The `leads` setting.
        #[label("in this file")]
        at: SourceSpan,
    },
}
