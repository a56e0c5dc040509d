// Package offline is DealDesk's offline task generator: for each assistant
// task it composes a structured answer from the task's own input and the
// retrieved sources, by extraction and templates, with no language model.
// It is what the product answers with when the configured provider is
// "offline" (the embedded default), so every task works end to end on a
// machine without model weights; answers say they are offline.
//
// The contract every composer keeps:
//   - the answer validates against the output schema of the template it is
//     composed for (the caller passes the template);
//   - every fact comes from the input or a source, and is cited by the
//     source's label (S1, S2, ... and T1 for the task's own document);
//     a label that was not given is never cited;
//   - placeholders such as ⟦PHONE_1⟧ (personal data masked by the trust
//     layer) are copied whole, never split or altered;
//   - the same input always gives the same answer (no randomness, no map
//     iteration order in the output).
package offline
