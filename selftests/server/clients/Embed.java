// POSTs a JSON body (read from standard input) to a URL with Java's own java.net.http.HttpClient,
// as it comes: HTTP/2 preferred, so on plain http it asks to switch with `Upgrade: h2c`.
// Run as a single-file program:  java Embed.java URL < body.json
// Prints the status, the x-request-id header and the response body, one per line.
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

public class Embed {
    public static void main(String[] args) throws Exception {
        String body = new String(System.in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
        HttpRequest request = HttpRequest.newBuilder(URI.create(args[0]))
            .timeout(Duration.ofSeconds(60))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build();
        HttpResponse<String> response = client.send(request, HttpResponse.BodyHandlers.ofString());
        System.out.println(response.statusCode());
        System.out.println(response.version());
        System.out.println(response.headers().firstValue("x-request-id").orElse(""));
        System.out.println(response.body());
    }
}
