package org.mla4j.langchain4j;

import java.nio.file.Path;
import java.util.Objects;

import dev.langchain4j.model.chat.request.ChatRequestParameters;

import org.mla4j.Model;
import org.mla4j.chat.ChatFormat;
import org.mla4j.serve.BatchScheduler;
import org.mla4j.serve.CompletionRequests;

/**
 * What an mla4j LangChain4j model runs on: a {@link BatchScheduler} (owned when the model loaded it from a path,
 * borrowed when given one), the model's chat format, and fixed sampling extras.
 */
final class Mla4jModels implements AutoCloseable {
    final BatchScheduler scheduler;
    final ChatFormat format;
    final String modelName;
    final ChatRequestParameters defaults;
    final Mla4jRequests.Extra extra;
    private final Model ownedModel;

    private Mla4jModels(BatchScheduler scheduler, Model ownedModel, String modelName, ChatRequestParameters defaults,
            Mla4jRequests.Extra extra) {
        this.scheduler = scheduler;
        this.ownedModel = ownedModel;
        this.format = CompletionRequests.chatFormat(scheduler.model());
        this.modelName = modelName;
        this.defaults = defaults;
        this.extra = extra;
    }

    static Mla4jModels of(Builder<?> b) {
        ChatRequestParameters defaults = ChatRequestParameters.builder().modelName(b.modelName)
                .temperature(b.temperature).topP(b.topP).topK(b.topK).maxOutputTokens(b.maxTokens)
                .stopSequences(b.stop).build();
        Mla4jRequests.Extra extra = new Mla4jRequests.Extra(b.minP, b.repeatPenalty, b.seed);
        if (b.scheduler != null) {
            String name = b.modelName != null ? b.modelName : b.scheduler.model().path().getFileName().toString();
            return new Mla4jModels(b.scheduler, null, name, defaults, extra);
        }
        Objects.requireNonNull(b.modelPath, "either scheduler(...) or modelPath(...) must be set");
        Model model = Model.load(b.modelPath);
        try {
            BatchScheduler s = BatchScheduler.start(model, b.options);
            String name = b.modelName != null ? b.modelName : b.modelPath.getFileName().toString();
            return new Mla4jModels(s, model, name, defaults, extra);
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
    }

    @Override
    public void close() {
        if (ownedModel != null) {
            scheduler.close();
            ownedModel.close();
        }
    }

    /** Settings shared by {@link Mla4jChatModel} and {@link Mla4jStreamingChatModel}. */
    @SuppressWarnings("unchecked")
    public abstract static class Builder<B extends Builder<B>> {
        BatchScheduler scheduler;
        Path modelPath;
        BatchScheduler.Options options = BatchScheduler.Options.defaults().withContextSize(4096);
        String modelName;
        Double temperature;
        Double topP;
        Integer topK;
        Double minP;
        Double repeatPenalty;
        Long seed;
        Integer maxTokens;
        java.util.List<String> stop;

        /** Run on an existing scheduler (shared, e.g. with an HTTP server); closing the chat model leaves it open. */
        public B scheduler(BatchScheduler s) {
            this.scheduler = s;
            return (B) this;
        }

        /** Load this model and run it on a scheduler of its own (closed with the chat model). */
        public B modelPath(Path p) {
            this.modelPath = p;
            return (B) this;
        }

        /** Options of the scheduler created for {@link #modelPath} (default: one slot of 4096 positions). */
        public B schedulerOptions(BatchScheduler.Options o) {
            this.options = o;
            return (B) this;
        }

        public B modelName(String n) {
            this.modelName = n;
            return (B) this;
        }

        public B temperature(Double t) {
            this.temperature = t;
            return (B) this;
        }

        public B topP(Double p) {
            this.topP = p;
            return (B) this;
        }

        public B topK(Integer k) {
            this.topK = k;
            return (B) this;
        }

        public B minP(Double p) {
            this.minP = p;
            return (B) this;
        }

        public B repeatPenalty(Double p) {
            this.repeatPenalty = p;
            return (B) this;
        }

        public B seed(Long s) {
            this.seed = s;
            return (B) this;
        }

        public B maxTokens(Integer n) {
            this.maxTokens = n;
            return (B) this;
        }

        public B stop(java.util.List<String> s) {
            this.stop = s;
            return (B) this;
        }
    }
}
