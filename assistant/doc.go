// Package assistant runs DealDesk's tasks: customer email drafts, meeting
// notes, talk-track packs, objection handling, tender analysis and
// competitive intel. Every task goes through the same pipeline, in
// Service.Run:
//
//  1. check that the tenant has the task's feature switched on;
//  2. mask personal data in the request (phones, ID numbers, emails, bank
//     cards) with one trust.Masker, so the model, the logs and the stored
//     record only ever see placeholders such as ⟦PHONE_1⟧;
//  3. retrieve: one or more hybrid searches in the caller's scope (RLS
//     applies: a rep only retrieves what it may read), packed into a token
//     budget as sources S1, S2, ... that are masked and cleaned of
//     chat-template control tokens too;
//  4. choose the prompt version (the tenant's policy: pinned, latest, or an
//     A/B split by a stable hash of the request) and render it;
//  5. call the model: the configured provider through langchaingo, or the
//     offline composer (package offline) when the provider is "offline";
//     streamed answers are unmasked on the fly;
//  6. parse the JSON answer and validate it against the template's schema;
//     when it fails, ask the model once to repair it, then give up with
//     ErrInvalidOutput;
//  7. verify citations: every [S3] or "S3" must name a retrieved source (T1
//     is the task's own document); unknown ones are removed and reported,
//     uncited claims are flagged;
//  8. unmask the answer for the caller, and store the generation record
//     (masked input, output, sources, prompt version, provider, tokens,
//     latency, caller) with an audit log entry in the same transaction.
package assistant
