package dev.obreg.fidelity;

import java.beans.BeanInfo;
import java.beans.Introspector;
import java.beans.PropertyDescriptor;
import java.io.FileInputStream;
import java.io.InputStream;
import java.lang.reflect.Array;
import java.lang.reflect.Method;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.TreeMap;
import javax.xml.stream.XMLInputFactory;
import javax.xml.stream.XMLStreamReader;
import org.apache.axiom.om.OMElement;
import org.apache.axiom.om.impl.builder.StAXOMBuilder;
import org.wso2.carbon.identity.application.common.model.IdentityProvider;
import org.wso2.carbon.identity.application.common.model.ServiceProvider;

/**
 * Reads a file-based identity provider or service provider as the Key Manager does at
 * start (a StAX OM builder, then IdentityProvider.build or ServiceProvider.build) and
 * prints what WSO2 read as JSON: every bean property of the model, recursively, so a
 * test can compare it field by field with what obreg meant to say.
 *
 * <p>Usage: ReadAsWso2 idp|sp FILE... Prints one JSON line per file: the model, or
 * {"refused": reason} when build threw or returned nothing (the KM would drop the file).
 */
public final class ReadAsWso2 {
    private ReadAsWso2() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 2 || !(args[0].equals("idp") || args[0].equals("sp"))) {
            System.err.println("usage: ReadAsWso2 idp|sp FILE...");
            System.exit(64);
        }
        for (int i = 1; i < args.length; i++) {
            StringBuilder out = new StringBuilder();
            Object model = null;
            String refused = null;
            try (InputStream in = new FileInputStream(args[i])) {
                XMLInputFactory factory = XMLInputFactory.newInstance();
                factory.setProperty(XMLInputFactory.SUPPORT_DTD, false);
                XMLStreamReader reader = factory.createXMLStreamReader(in);
                OMElement root = new StAXOMBuilder(reader).getDocumentElement();
                model = args[0].equals("idp")
                        ? IdentityProvider.build(root)
                        : ServiceProvider.build(root);
            } catch (Exception e) {
                refused = e.toString();
            }
            if (model == null) {
                out.append("{\"refused\":");
                quote(refused == null ? "build returned nothing" : refused, out);
                out.append('}');
            } else {
                write(model, out, new IdentityHashMap<>(), 0);
            }
            System.out.println(out);
        }
    }

    private static void write(Object value, StringBuilder out, Map<Object, Boolean> seen, int depth)
            throws Exception {
        if (value == null) {
            out.append("null");
        } else if (value instanceof String || value instanceof Enum) {
            quote(value.toString(), out);
        } else if (value instanceof Boolean || value instanceof Number) {
            out.append(value);
        } else if (value.getClass().isArray()) {
            out.append('[');
            for (int i = 0; i < Array.getLength(value); i++) {
                if (i > 0) out.append(',');
                write(Array.get(value, i), out, seen, depth + 1);
            }
            out.append(']');
        } else if (value instanceof Iterable<?> items) {
            out.append('[');
            boolean first = true;
            for (Object item : items) {
                if (!first) out.append(',');
                first = false;
                write(item, out, seen, depth + 1);
            }
            out.append(']');
        } else if (!value.getClass().getName().startsWith("org.wso2.") || depth > 12
                || seen.containsKey(value)) {
            quote(String.valueOf(value), out);
        } else {
            seen.put(value, true);
            Map<String, Object> properties = new TreeMap<>();
            BeanInfo info = Introspector.getBeanInfo(value.getClass(), Object.class);
            for (PropertyDescriptor property : info.getPropertyDescriptors()) {
                Method getter = property.getReadMethod();
                if (getter != null && getter.getParameterCount() == 0) {
                    properties.put(property.getName(), getter.invoke(value));
                }
            }
            out.append('{');
            boolean first = true;
            for (Map.Entry<String, Object> entry : properties.entrySet()) {
                if (!first) out.append(',');
                first = false;
                quote(entry.getKey(), out);
                out.append(':');
                write(entry.getValue(), out, seen, depth + 1);
            }
            out.append('}');
            seen.remove(value);
        }
    }

    private static void quote(String text, StringBuilder out) {
        out.append('"');
        for (char c : text.toCharArray()) {
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                default -> {
                    if (c < 0x20) out.append(String.format("\\u%04x", (int) c));
                    else out.append(c);
                }
            }
        }
        out.append('"');
    }
}
