// Package analyze composes DealDesk's offline answers to the three
// document-analysis tasks: meeting notes, tender analysis and competitive
// intelligence. Each composer reads the task's own document (the
// transcript, the tender, the intel text: source T1) with rules, cue-word
// lexicons and small parsers for amounts and dates, compares it with the
// retrieved sources where the task asks for it, and fills the output
// schema of the template it is composed for. No language model is
// involved. Tables are read in both forms they arrive in: pasted Markdown
// pipe rows, and the "column: value | column: value" rows of a document
// read back from the knowledge base (a tender analysed by document_id, a
// product sheet retrieved as a source); columns are told apart by their
// names (参数项, 指标, 分值, Requirement, Points, ...).
//
// The composers keep the contract of package offline: the answer
// validates against the template's schema; every span is copied verbatim
// from T1 (cut on rune boundaries, never inside a ⟦PLACEHOLDER⟧); only the
// labels T1 and the given source IDs are cited; sentences that read like
// instructions to a model are never quoted; and the same input always
// gives the same answer. What a rule cannot establish is left null,
// empty or "unknown" rather than guessed: a parameter our product sheets
// are silent on is unknown, not met.
package analyze
