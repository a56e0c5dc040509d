// Package providers is DealDesk's model layer: it turns configuration
// into a chat model (langchaingo's llms.Model) and an embedder
// (langchaingo's embeddings.Embedder), so the rest of DealDesk never
// names a vendor. Choosing a provider is configuration: "offline" (the
// default, no network), "openai" (any OpenAI-compatible server: OpenAI,
// vLLM, DeepSeek, Qwen through DashScope's compatible mode) or "ollama";
// chat and embeddings may come from different providers.
//
// Remote calls are made resilient here, once, for every caller: an HTTP
// transport retries connection errors and 408/429/5xx answers with
// exponential backoff, full jitter and Retry-After; each call has a time
// limit (an idle limit for streams, so long answers are not cut); a
// circuit breaker fails fast while a provider keeps failing; errors say
// what happened (status, attempts, timeouts) and can be matched with
// errors.Is (ErrTimeout, ErrCircuitOpen, ErrDimension, ErrInterrupted) or
// errors.As (*CallError). Token usage is always reported, counted with
// lang.CountTokens when the server does not say.
//
// The offline provider keeps DealDesk useful and testable without any
// model: OfflineEmbedder hashes Chinese and English word features into a
// fixed-dimension vector, and OfflineLLM answers by quoting the retrieved
// sentences that best match the question, with citations. Prompts fence
// retrieved text as <source id="S1" ...> data blocks (FormatSources);
// ParseSources and RankSentences are exported so tasks can fill their
// structured outputs offline the same way.
package providers
