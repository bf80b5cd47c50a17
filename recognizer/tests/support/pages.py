"""Reading pages through Django's test client."""


def page_html(client, url: str) -> str:
    """The HTML of the page at ``url``, which must answer 200."""
    response = client.get(url)
    assert response.status_code == 200, response.content[:500]
    return response.content.decode()
