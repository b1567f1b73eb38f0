package org.mla4j.chat;

import java.beans.FeatureDescriptor;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;

/**
 * The Python {@code str} methods chat templates call ({@code content.strip()}, {@code .startswith('<think>')},
 * {@code .split('</think>')}...), which Java's String lacks or has with other semantics. Resolves only those
 * calls on strings; everything else falls through to jinjava's own resolver.
 */
final class PythonStringMethods extends ELResolver {
    /** Python's str.strip() default: whitespace. */
    private static final String WHITESPACE = " \t\n\r\u000B\f";

    @Override
    public Object invoke(ELContext context, Object base, Object method, Class<?>[] paramTypes, Object[] params) {
        if (!(base instanceof String s) || !(method instanceof String name)) {
            return null;
        }
        Object[] args = params == null ? new Object[0] : params;
        Object result = switch (name) {
            case "strip" -> args.length <= 1 ? rstrip(lstrip(s, chars(args)), chars(args)) : null;
            case "lstrip" -> args.length <= 1 ? lstrip(s, chars(args)) : null;
            case "rstrip" -> args.length <= 1 ? rstrip(s, chars(args)) : null;
            case "startswith" -> args.length == 1 ? s.startsWith(String.valueOf(args[0])) : null;
            case "endswith" -> args.length == 1 ? s.endsWith(String.valueOf(args[0])) : null;
            case "split" -> args.length <= 1 ? split(s, args.length == 0 || args[0] == null ? null : String.valueOf(args[0]))
                    : null;
            case "upper" -> args.length == 0 ? s.toUpperCase(Locale.ROOT) : null;
            case "lower" -> args.length == 0 ? s.toLowerCase(Locale.ROOT) : null;
            default -> null;
        };
        if (result != null) {
            context.setPropertyResolved(true);
        }
        return result;
    }

    private static String chars(Object[] args) {
        return args.length == 0 || args[0] == null ? WHITESPACE : String.valueOf(args[0]);
    }

    private static String lstrip(String s, String chars) {
        int i = 0;
        while (i < s.length() && chars.indexOf(s.charAt(i)) >= 0) {
            i++;
        }
        return s.substring(i);
    }

    private static String rstrip(String s, String chars) {
        int i = s.length();
        while (i > 0 && chars.indexOf(s.charAt(i - 1)) >= 0) {
            i--;
        }
        return s.substring(0, i);
    }

    /** str.split(sep): literal separator; without one, runs of whitespace, empty strings dropped. */
    private static List<String> split(String s, String separator) {
        List<String> parts = new ArrayList<>();
        if (separator == null) {
            for (String part : s.strip().split("[ \\t\\n\\r\\u000B\\f]+")) {
                if (!part.isEmpty()) {
                    parts.add(part);
                }
            }
            return parts;
        }
        if (separator.isEmpty()) {
            throw new IllegalArgumentException("empty separator");
        }
        int from = 0;
        for (int at = s.indexOf(separator); at >= 0; at = s.indexOf(separator, from)) {
            parts.add(s.substring(from, at));
            from = at + separator.length();
        }
        parts.add(s.substring(from));
        return parts;
    }

    @Override
    public Object getValue(ELContext context, Object base, Object property) {
        return null;
    }

    @Override
    public Class<?> getType(ELContext context, Object base, Object property) {
        return null;
    }

    @Override
    public void setValue(ELContext context, Object base, Object property, Object value) {}

    @Override
    public boolean isReadOnly(ELContext context, Object base, Object property) {
        return true;
    }

    @Override
    public Iterator<FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) {
        return null;
    }

    @Override
    public Class<?> getCommonPropertyType(ELContext context, Object base) {
        return null;
    }
}
