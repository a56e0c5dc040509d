// Package trust is the layer every assistant task passes its model call
// through, so that personal data stays home, retrieved documents stay
// data, and answers stay tied to their sources.
//
// A task runs it in this order. Mask: one Masker per request replaces
// the phone numbers, landlines, resident ID numbers, e-mail addresses
// and bank card or account numbers in the question, the transcript and
// the retrieved sources with placeholders (⟦PHONE_1⟧), numbered the same
// across all of them. Fence: FenceSources writes the masked sources as
// <source id="S1"> blocks a document cannot break out of, and the system
// prompt carries DataOnlyInstruction and PlaceholderInstruction;
// LooksLikeInjection flags sources that read like instructions to a model
// for the audit record (they are still used). Model: only masked, fenced
// text leaves. Verify: VerifyCitations checks that every [S3] names a
// retrieved source and lists claims that cite none; StripUnknownCitations
// removes citations of sources that do not exist. Unmask: the Masker puts
// the personal data back into the answer, however the model bracketed
// the placeholders. Counts and the citation report go into the audit
// record; Leaks backs the evaluation assertion that no personal data
// reached a prompt.
//
// Detection favours recall for numbers shaped like personal data, since
// a false positive costs little (the model sees a placeholder and the
// answer gets the original back), and guards what a sales text is full
// of: amounts, dates, tender and model numbers, versions, percentages,
// IP addresses. Everything here needs no network and is safe for
// concurrent use, and it is deterministic except that an ID number's
// birth date must not be later than today.
package trust
