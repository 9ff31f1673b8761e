import pytest

from cloudbackup.dburl import parse_db_url
from cloudbackup.errors import UsageError


def test_full_url_is_parsed_and_percent_decoded():
    s = parse_db_url("mysql://app:p%40ss@db.example:3307/shop", environ={})
    assert (s.user, s.password, s.host, s.port, s.database) == ("app", "p@ss", "db.example", 3307, "shop")


def test_password_falls_back_to_mysql_pwd_and_port_to_3306():
    s = parse_db_url("mysql://root@127.0.0.1", environ={"MYSQL_PWD": "secret"})
    assert (s.password, s.port, s.database) == ("secret", 3306, None)


@pytest.mark.parametrize(
    "url",
    ["postgres://u@h/db", "mysql://h/db", "127.0.0.1:3306", "mysql://u@h:notaport/db", "mysql://u@h/a/b"],
)
def test_bad_urls_are_usage_errors_that_show_the_expected_form(url):
    with pytest.raises(UsageError, match="mysql://USER"):
        parse_db_url(url, environ={})


def test_the_password_never_appears_in_the_error():
    with pytest.raises(UsageError) as info:
        parse_db_url("mysql://u:hunter2@h/a/b", environ={})
    assert "hunter2" not in str(info.value)
