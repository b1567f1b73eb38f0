package org.mla4j.langchain4j;

import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.response.ChatResponse;

import org.mla4j.serve.TokenStream;

/**
 * A LangChain4j {@link ChatModel} that runs an mla4j model in-process (no HTTP): the conversation goes through the
 * model's chat template and the same request code as {@code mla4j serve}, onto a
 * {@link org.mla4j.serve.BatchScheduler}. Thread-safe; calls from several threads share the scheduler's slots.
 *
 * <pre>{@code
 * try (Mla4jChatModel model = Mla4jChatModel.builder().modelPath(Path.of("model.gguf")).temperature(0.0).build()) {
 *     String answer = model.chat("Hello!");
 * }
 * }</pre>
 */
public final class Mla4jChatModel implements ChatModel, AutoCloseable {
    private final Mla4jModels models;

    private Mla4jChatModel(Mla4jModels models) {
        this.models = models;
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    public ChatRequestParameters defaultRequestParameters() {
        return models.defaults;
    }

    @Override
    public ChatResponse doChat(ChatRequest request) {
        TokenStream stream = models.scheduler.stream(Mla4jRequests.toRequest(request, models.scheduler, models.format,
                models.extra));
        TokenStream.Completion c;
        try {
            c = stream.collect();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while generating", e);
        }
        return ChatResponse.builder()
                .aiMessage(AiMessage.from(c.text()))
                .modelName(models.modelName)
                .tokenUsage(Mla4jRequests.usage(c.result()))
                .finishReason(Mla4jRequests.finishReason(c.result()))
                .build();
    }

    /** Frees the model and scheduler when this chat model loaded them ({@code modelPath}); else does nothing. */
    @Override
    public void close() {
        models.close();
    }

    public static final class Builder extends Mla4jModels.Builder<Builder> {
        public Mla4jChatModel build() {
            return new Mla4jChatModel(Mla4jModels.of(this));
        }
    }
}
