package org.mla4j.chat;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import jinjava.javax.el.CompositeELResolver;
import jinjava.javax.el.ELResolver;
import org.mla4j.tokenizer.MetadataSource;

/**
 * A model's chat template ({@code tokenizer.chat_template}, Jinja) rendered the way Hugging Face transformers
 * renders it: trim_blocks and lstrip_blocks on, the variables {@code messages} (maps with "role" and
 * "content"), {@code add_generation_prompt}, {@code bos_token} and {@code eos_token}, and the functions
 * {@code raise_exception(message)} and {@code strftime_now(format)}. Rendering is done by jinjava.
 * Instances are immutable and thread-safe.
 */
public final class ChatTemplate {
    /** The GGUF key of the default chat template. */
    public static final String METADATA_KEY = "tokenizer.chat_template";

    private static final Jinjava JINJAVA = newJinjava();

    private final String source;
    private final String bosToken;
    private final String eosToken;

    /**
     * A template from its text.
     *
     * @param source the Jinja template text
     * @param bosToken the text of the BOS token ("" when there is none), as templates write it
     * @param eosToken the text of the EOS token ("" when there is none)
     */
    public ChatTemplate(String source, String bosToken, String eosToken) {
        this.source = Objects.requireNonNull(source, "source");
        this.bosToken = Objects.requireNonNull(bosToken, "bosToken");
        this.eosToken = Objects.requireNonNull(eosToken, "eosToken");
    }

    /**
     * The template stored in GGUF metadata, with the BOS/EOS texts of its vocabulary; empty when the model has
     * no {@code tokenizer.chat_template}.
     *
     * @param metadata the model's metadata (a {@link org.mla4j.gguf.GgufFile})
     * @return the template, or empty
     */
    public static Optional<ChatTemplate> fromMetadata(MetadataSource metadata) {
        Optional<String> source = metadata.getString(METADATA_KEY);
        if (source.isEmpty() || source.get().isBlank()) {
            return Optional.empty();
        }
        List<String> tokens = metadata.getStringArray("tokenizer.ggml.tokens").orElse(List.of());
        return Optional.of(new ChatTemplate(source.get(), tokenText(metadata, "bos", tokens),
                tokenText(metadata, "eos", tokens)));
    }

    private static String tokenText(MetadataSource metadata, String which, List<String> tokens) {
        var id = metadata.getLong("tokenizer.ggml." + which + "_token_id");
        return id.isPresent() && id.getAsLong() >= 0 && id.getAsLong() < tokens.size()
                ? tokens.get((int) id.getAsLong()) : "";
    }

    /** {@return the Jinja template text} */
    public String source() {
        return source;
    }

    /**
     * Renders a conversation.
     *
     * @param addGenerationPrompt end with the header that starts the assistant's answer
     * @throws ChatTemplateException when the template does not parse, fails while rendering, or rejects the
     *     conversation through raise_exception; the message says which and where
     * @param messages the conversation
     * @return the rendered text
     */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        List<Map<String, Object>> list = new ArrayList<>(messages.size());
        for (ChatMessage m : messages) {
            Map<String, Object> map = new LinkedHashMap<>();
            map.put("role", m.role());
            map.put("content", m.content());
            list.add(map);
        }
        Map<String, Object> context = new HashMap<>();
        context.put("messages", list);
        context.put("add_generation_prompt", addGenerationPrompt);
        context.put("bos_token", bosToken);
        context.put("eos_token", eosToken);
        RenderResult result;
        try {
            result = JINJAVA.renderForResult(source, context);
        } catch (RuntimeException e) {
            throw new ChatTemplateException("chat template failed: " + rootMessage(e), e);
        }
        for (TemplateError error : result.getErrors()) {
            if (error.getSeverity() == TemplateError.ErrorType.FATAL) {
                throw new ChatTemplateException("chat template failed"
                        + (error.getLineno() > 0 ? " at line " + error.getLineno() : "") + ": " + describe(error));
            }
        }
        return result.getOutput();
    }

    private static String describe(TemplateError error) {
        Throwable cause = error.getException();
        if (cause != null) {
            String root = rootMessage(cause);
            if (root.startsWith(RAISED)) {
                return "the template rejected the conversation: " + root.substring(RAISED.length());
            }
        }
        return error.getMessage();
    }

    private static final String RAISED = "raise_exception: ";

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t.getMessage() != null ? t.getMessage() : t.getClass().getSimpleName();
    }

    private static Jinjava newJinjava() {
        JinjavaConfig config = JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                .withElResolver(resolver())
                .withLegacyOverrides(LegacyOverrides.newBuilder()
                        .withUseTrimmingForNotesAndExpressions(true) // {{- x -}} and {#- -#} trim like Jinja
                        .withParseWhitespaceControlStrictly(true)
                        .withUseNaturalOperatorPrecedence(true)
                        .withEvaluateMapKeys(true) // {key: v} uses the variable key, as in Python
                        .withIterateOverMapKeys(true) // for k in dict iterates its keys, as in Python
                        .withUsePyishObjectMapper(true) // lists and dicts print as Python writes them
                        .withKeepNullableLoopValues(true)
                        .build())
                .build();
        Jinjava jinjava = new Jinjava(config);
        jinjava.getGlobalContext().registerFunction(new ELFunctionDefinition("", "raise_exception",
                ChatTemplate.class, "raiseException", String.class));
        jinjava.getGlobalContext().registerFunction(new ELFunctionDefinition("", "strftime_now",
                ChatTemplate.class, "strftimeNow", String.class));
        return jinjava;
    }

    /** Python's str methods first, then jinjava's default resolver. */
    private static ELResolver resolver() {
        CompositeELResolver resolver = new CompositeELResolver();
        resolver.add(new PythonStringMethods());
        resolver.add(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_ONLY);
        return resolver;
    }

    /**
     * {@return the template's raise_exception(message): stops rendering with that message}
     *
     * @param message the template's message
     */
    public static Object raiseException(String message) {
        throw new IllegalArgumentException(RAISED + message);
    }

    /**
     * {@return the template's strftime_now(format), for the Python strftime directives templates use}
     *
     * @param format a Python strftime format
     */
    public static String strftimeNow(String format) {
        return Strftime.format(format, ZonedDateTime.now());
    }
}
