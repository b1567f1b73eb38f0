package org.mla4j.serve;

/** Why a completion ended. */
public enum FinishReason {
    /** The model generated an end-of-generation token (EOS, EOT). */
    END_OF_GENERATION("stop"),
    /** A stop string of the request was generated. */
    STOP_STRING("stop"),
    /** maxTokens tokens were generated. */
    MAX_TOKENS("length"),
    /** The slot's context is full. */
    CONTEXT_FULL("length"),
    /** The request was cancelled (client gone, shutdown). */
    CANCELLED("cancelled");

    private final String openAiName;

    FinishReason(String openAiName) {
        this.openAiName = openAiName;
    }

    /**
     * {@return the finish_reason OpenAI's API reports: "stop" or "length" ("cancelled" is never sent to a client)}
     */
    public String openAiName() {
        return openAiName;
    }
}
